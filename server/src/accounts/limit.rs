//! Failure counting for sign-in and sign-up: at most `max` events per key (an IP address or
//! an account name) per `window`, in a map bounded in entries so a flood of new keys cannot
//! grow it without end.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Limiter {
    max: u32,
    window: Duration,
    capacity: usize,
    /// Key → (start of its window, events in it).
    entries: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    pub fn new(max: u32, window: Duration, capacity: usize) -> Self {
        Self {
            max,
            window,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while `key` has used up its window.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some(&(start, n)) if n >= self.max && now < start + self.window => {
                Err(start + self.window - now)
            }
            _ => Ok(()),
        }
    }

    /// Counts one event for `key`.
    pub fn hit(&self, key: &str, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if !entries.contains_key(key) && entries.len() >= self.capacity {
            entries.retain(|_, (start, _)| now < *start + self.window);
            if entries.len() >= self.capacity {
                // Still full of live windows: forget the oldest one.
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, v)| v.0)
                    .map(|(k, _)| k.clone())
                {
                    entries.remove(&oldest);
                }
            }
        }
        let entry = entries.entry(key.to_string()).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    pub fn clear(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Keys tracked now (for the bound test).
    pub fn tracked(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_then_forgets() {
        let l = Limiter::new(3, Duration::from_secs(60), 4);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check("a", t0).is_ok());
            l.hit("a", t0);
        }
        let wait = l.check("a", t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(l.check("b", t0).is_ok(), "keys are separate");
        assert!(
            l.check("a", t0 + Duration::from_secs(60)).is_ok(),
            "window over"
        );
        l.clear("a");
        assert!(l.check("a", t0).is_ok());
        for i in 0..100 {
            l.hit(&format!("k{i}"), t0);
        }
        assert!(l.tracked() <= 4, "bounded: {}", l.tracked());
    }
}
