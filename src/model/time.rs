//! Timestamps on the wire, written the way chrono's serde writes them
//! (RFC 3339, `Z`, fractional seconds only when present, in groups of 3, 6 or
//! 9 digits) but without `fmt` machinery: output serialization formats a few
//! timestamps per record, and chrono's `Display` path was about 7 % of the
//! live process's samples. Use as `#[serde(with = "crate::model::time")]`.

use super::Timestamp;
use chrono::{Datelike, Timelike};
use serde::{Deserialize, Deserializer, Serializer};

fn two(buf: &mut [u8], at: usize, v: u32) {
    buf[at] = b'0' + (v / 10) as u8;
    buf[at + 1] = b'0' + (v % 10) as u8;
}

/// Formats `t` into `buf`, returning the length; `None` for what the fast
/// path does not cover (years outside 0..=9999, leap seconds).
fn format(t: &Timestamp, buf: &mut [u8; 32]) -> Option<usize> {
    let year = t.year();
    let nanos = t.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return None;
    }
    let y = year as u32;
    two(buf, 0, y / 100);
    two(buf, 2, y % 100);
    buf[4] = b'-';
    two(buf, 5, t.month());
    buf[7] = b'-';
    two(buf, 8, t.day());
    buf[10] = b'T';
    two(buf, 11, t.hour());
    buf[13] = b':';
    two(buf, 14, t.minute());
    buf[16] = b':';
    two(buf, 17, t.second());
    let mut len = 19;
    let (digits, mut frac) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (3, n / 1_000_000),
        n if n % 1_000 == 0 => (6, n / 1_000),
        n => (9, n),
    };
    if digits > 0 {
        buf[len] = b'.';
        for i in (0..digits).rev() {
            buf[len + 1 + i] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        len += 1 + digits;
    }
    buf[len] = b'Z';
    Some(len + 1)
}

pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 32];
    match format(t, &mut buf) {
        Some(len) => s.serialize_str(std::str::from_utf8(&buf[..len]).expect("ASCII")),
        None => s.collect_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    Timestamp::deserialize(d)
}

/// The same for `Option<Timestamp>` (`null` when absent).
pub mod option {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<Timestamp>::deserialize(d)
    }
}

/// Input timestamps (`DateTime<FixedOffset>`): strict RFC 3339 with a `T`
/// and an offset, as the schema says; chrono's own parsing also takes
/// forms like `2026-11-02 16:22:33 UTC`, which the contract does not.
pub mod offset {
    use chrono::{DateTime, FixedOffset};
    use serde::{Deserialize, Deserializer};

    /// Parses one input timestamp.
    pub fn parse(text: &str) -> Result<DateTime<FixedOffset>, String> {
        let shaped = text.len() >= 20 && matches!(text.as_bytes()[10], b'T' | b't');
        shaped
            .then(|| DateTime::parse_from_rfc3339(text).ok())
            .flatten()
            .ok_or_else(|| {
                format!("{text:?} is not an RFC 3339 time with an offset, e.g. 2026-11-10T08:00:00+08:00")
            })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<FixedOffset>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    /// The same for optional fields.
    pub mod option {
        use chrono::{DateTime, FixedOffset};
        use serde::{Deserialize, Deserializer};

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
            match Option::<std::borrow::Cow<'de, str>>::deserialize(d)? {
                None => Ok(None),
                Some(text) => super::parse(&text)
                    .map(Some)
                    .map_err(serde::de::Error::custom),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn input_timestamps_are_strict_rfc_3339() {
        for good in [
            "2026-11-02T16:22:33+08:00",
            "2026-11-02t16:22:33.5Z",
            "2026-11-02T08:22:33z",
        ] {
            assert!(offset::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "2026-11-02 16:22:33 UTC",
            "2026-11-02 16:22:33+08:00",
            "2026-11-02T16:22:33",
            "2026-11-02",
            "",
            "2026-13-02T16:22:33Z",
        ] {
            let err = offset::parse(bad).unwrap_err();
            assert!(err.contains("RFC 3339"), "{bad}: {err}");
        }
    }

    proptest! {
        /// Byte-identical to chrono's own serde output.
        #[test]
        fn same_text_as_chrono(secs in -62_000_000_000i64..253_402_300_799i64, nanos in prop_oneof![
            Just(0u32), (0u32..1000).prop_map(|m| m * 1_000_000), (0u32..1_000_000).prop_map(|u| u * 1000), 0u32..1_000_000_000
        ]) {
            let t = chrono::DateTime::from_timestamp(secs, nanos).unwrap();
            let mut ours = serde_json::Serializer::new(Vec::new());
            serialize(&t, &mut ours).unwrap();
            prop_assert_eq!(String::from_utf8(ours.into_inner()).unwrap(), serde_json::to_string(&t).unwrap());
        }
    }
}
