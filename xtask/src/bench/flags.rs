//! The one option parser of every `cargo xtask bench …` subcommand: `--name VALUE` pairs
//! with defaults and, for the subcommands that pass arguments on to `onair-bench`, whatever
//! follows `--`.

use crate::tools::Fail;

/// The parsed options of one subcommand.
pub struct Flags {
    values: Vec<(&'static str, String)>,
    /// What followed `--` (only where the subcommand passes arguments on).
    pub extra: Vec<String>,
}

impl Flags {
    /// Reads `args` against `defaults` (every option the subcommand knows, with its default;
    /// the last value given wins). With `passthrough`, what follows `--` goes to
    /// [`Flags::extra`]; without it `--` is an unknown option. Errors end with `usage`.
    pub fn parse(
        args: &[String],
        defaults: &[(&'static str, &str)],
        passthrough: bool,
        usage: &str,
    ) -> Result<Self, Fail> {
        let mut flags = Flags {
            values: defaults.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            extra: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if passthrough && arg == "--" {
                flags.extra = it.cloned().collect();
                break;
            }
            let slot = flags
                .values
                .iter_mut()
                .find(|(name, _)| name == arg)
                .ok_or_else(|| Fail::new(format!("unknown option {arg:?}\n\n{usage}")))?;
            slot.1 = it
                .next()
                .cloned()
                .ok_or_else(|| Fail::new(format!("{arg} needs a value\n\n{usage}")))?;
        }
        Ok(flags)
    }

    /// The value of `name`, which must be one of the defaults given to [`Flags::parse`].
    pub fn get(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{name} is not an option of this subcommand"))
    }

    /// The value of `name`, which must be one of `allowed`.
    pub fn one_of(&self, name: &str, allowed: &[&str], what: &str) -> Result<&str, Fail> {
        let value = self.get(name);
        if allowed.contains(&value) {
            Ok(value)
        } else {
            Err(Fail::new(format!("{name} {value}: {what}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    const DEFAULTS: &[(&str, &str)] = &[("--viewers", "1000"), ("--proto", "http-flv")];

    #[test]
    fn defaults_values_and_passthrough() {
        let f = Flags::parse(&args("--viewers 20 -- --x 1"), DEFAULTS, true, "U").unwrap();
        assert_eq!(f.get("--viewers"), "20");
        assert_eq!(f.get("--proto"), "http-flv");
        assert_eq!(f.extra, args("--x 1"));
        let f = Flags::parse(&args("--viewers 1 --viewers 2"), DEFAULTS, true, "U").unwrap();
        assert_eq!(f.get("--viewers"), "2");
        assert!(f.extra.is_empty());
    }

    #[test]
    fn unknown_missing_and_refused_passthrough() {
        let err = |a: &str, pass| Flags::parse(&args(a), DEFAULTS, pass, "U").err().unwrap();
        assert!(
            err("--nope 1", true)
                .what
                .starts_with("unknown option \"--nope\"")
        );
        assert!(
            err("--viewers", true)
                .what
                .starts_with("--viewers needs a value")
        );
        assert!(
            err("-- --x", false)
                .what
                .starts_with("unknown option \"--\"")
        );
        assert!(err("--nope 1", true).what.ends_with("\n\nU"));
    }

    #[test]
    fn one_of() {
        let f = Flags::parse(&args("--proto rtmp"), DEFAULTS, false, "U").unwrap();
        assert_eq!(f.one_of("--proto", &["rtmp"], "rtmp").unwrap(), "rtmp");
        let e = f
            .one_of("--proto", &["ws-flv"], "ws-flv only")
            .err()
            .unwrap();
        assert_eq!(e.what, "--proto rtmp: ws-flv only");
    }
}
