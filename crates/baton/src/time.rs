//! Times and dates as the vault records them: RFC 3339 UTC, seconds precision.

/// The current time as RFC 3339, seconds precision, UTC.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(crate::replay::now()).to_string()
}

/// Today's date (UTC), `YYYY-MM-DD`.
pub fn today() -> String {
    day_of(&now()).to_string()
}

/// The calendar day (`YYYY-MM-DD`) of an RFC 3339 time the vault recorded. Text that is
/// shorter, or not cut at a character boundary (a damaged file), comes back whole:
/// this never panics, unlike slicing.
pub fn day_of(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

/// Whether `s` is a calendar date written `YYYY-MM-DD` (so that text order is date
/// order, which retention and rotation rely on).
pub fn is_date(s: &str) -> bool {
    s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && humantime::parse_rfc3339_weak(&format!("{s}T00:00:00Z")).is_ok()
}

/// A checked calendar date, `YYYY-MM-DD`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(String);

/// Text that is not a `YYYY-MM-DD` calendar date.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a date (YYYY-MM-DD)")]
pub struct BadDate(pub String);

impl Date {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Today (UTC).
    pub fn today() -> Date {
        Date(today())
    }
}

impl std::str::FromStr for Date {
    type Err = BadDate;
    fn from_str(s: &str) -> Result<Date, BadDate> {
        if is_date(s) {
            Ok(Date(s.to_string()))
        } else {
            Err(BadDate(s.to_string()))
        }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Date> for String {
    fn from(d: Date) -> String {
        d.0
    }
}

/// Adds calendar months to an RFC 3339 UTC time (`YYYY-MM-DDThh:mm:ssZ`), keeping the
/// time of day and clamping the day to the month's length (Jan 31 + 1 month = Feb 28/29).
pub fn add_months(rfc3339: &str, months: u32) -> Option<String> {
    let t: std::time::SystemTime = humantime::parse_rfc3339_weak(rfc3339).ok()?;
    let s = humantime::format_rfc3339_seconds(t).to_string();
    let (y, rest) = s.split_at(4);
    let y: i64 = y.parse().ok()?;
    let m: i64 = rest.get(1..3)?.parse().ok()?;
    let d: u32 = rest.get(4..6)?.parse().ok()?;
    let total = y * 12 + (m - 1) + i64::from(months);
    let (ny, nm) = (total / 12, total % 12 + 1);
    let leap = (ny % 4 == 0 && ny % 100 != 0) || ny % 400 == 0;
    let days = match nm {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(0..=9999).contains(&ny) {
        return None;
    }
    Some(format!(
        "{ny:04}-{nm:02}-{:02}{}",
        d.min(days),
        rest.get(6..)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates() {
        assert_eq!(day_of("2026-11-27T07:00:14Z"), "2026-11-27");
        assert_eq!(day_of("2026"), "2026");
        // Byte 10 inside a multi-byte character: no panic, the text back whole.
        assert_eq!(day_of("2026-11-2ä7"), "2026-11-2ä7");
        assert!("2024-02-29".parse::<Date>().is_ok());
        for bad in ["2023-02-29", "2026-13-01", "26-01-01", "2026-1-01x", ""] {
            assert_eq!(bad.parse::<Date>(), Err(BadDate(bad.into())), "{bad}");
        }
        assert_eq!(Date::today().as_str(), today());
    }

    #[test]
    fn months_are_calendar_months() {
        assert_eq!(
            add_months("2026-01-31T10:00:00Z", 1).as_deref(),
            Some("2026-02-28T10:00:00Z")
        );
        assert_eq!(
            add_months("2027-02-28T00:00:01Z", 12).as_deref(),
            Some("2028-02-28T00:00:01Z")
        );
        assert_eq!(
            add_months("2028-01-30T23:59:59Z", 1).as_deref(),
            Some("2028-02-29T23:59:59Z")
        );
        assert_eq!(
            add_months("2026-11-27T02:00:00Z", 14).as_deref(),
            Some("2028-01-27T02:00:00Z")
        );
        assert_eq!(add_months("not a date", 1), None);
    }
}
