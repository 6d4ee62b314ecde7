//! TOTP (RFC 6238) codes from `otpauth://totp/…` URIs.

use totp_rs::TOTP;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TotpError {
    /// The reason never quotes the URI: it holds the TOTP secret.
    #[error("not a valid otpauth://totp/ URI ({0})")]
    BadUri(&'static str),
}

fn parse(uri: &str) -> Result<TOTP, TotpError> {
    if !uri.starts_with("otpauth://totp/") {
        return Err(TotpError::BadUri("must start with otpauth://totp/"));
    }
    // Real services still hand out 80-bit secrets; RFC 4226 only recommends 160 bits, so
    // accept shorter ones (from_url_unchecked) but still require a decodable secret.
    let t = TOTP::from_url_unchecked(uri).map_err(|e| {
        use totp_rs::TotpUrlError as E;
        TotpError::BadUri(match e {
            E::Secret(_) | E::SecretSize(_) => "secret is missing or not base32",
            E::Algorithm(_) => "unknown algorithm",
            E::Digits(_) => "digits must be 6 to 8",
            E::Step(_) => "invalid period",
            _ => "malformed URI",
        })
    })?;
    if t.secret.is_empty() {
        return Err(TotpError::BadUri("secret is missing or not base32"));
    }
    Ok(t)
}

/// Checks a URI before it is stored.
pub fn validate(uri: &str) -> Result<(), TotpError> {
    parse(uri).map(|_| ())
}

/// The code at `unix_time` and the seconds it stays valid.
pub fn code_at(uri: &str, unix_time: u64) -> Result<(String, u64), TotpError> {
    let t = parse(uri)?;
    let code = t.generate(unix_time);
    let ttl = t.step - (unix_time % t.step);
    Ok((code, ttl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 Appendix B, SHA1, T = 59 → 94287082 (8 digits); secret "12345678901234567890".
        let uri = "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&period=30&algorithm=SHA1";
        assert_eq!(code_at(uri, 59).unwrap().0, "94287082");
        assert_eq!(code_at(uri, 1111111109).unwrap().0, "07081804");
        assert_eq!(code_at(uri, 59).unwrap().1, 1);
    }

    #[test]
    fn rejects_bad_uris_without_echo() {
        for bad in [
            "https://x",
            "otpauth://hotp/x?secret=GEZDGNBV",
            "otpauth://totp/x?secret=!!!!",
            "otpauth://totp/x",
        ] {
            let e = validate(bad).unwrap_err();
            assert!(!e.to_string().contains("!!!!"));
        }
    }
}
