//! UTC calendar dates from Unix time without a date crate, for HLS `PROGRAM-DATE-TIME`
//! and recording file names.

pub use onair_shared::remux::clock::civil_from_days;

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(20_413), (2025, 11, 21));
    }
}
