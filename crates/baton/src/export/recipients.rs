//! Who a package is encrypted to (docs/export-format.md): recipient files, and the
//! choice between the recipients given for one export and the client's stored ones.

use std::collections::HashSet;

use super::{PackageRecipient, RecipientError};

/// Why a recipients file was refused. Never quotes the file: a private key given by
/// mistake must not be printed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecipientFileError {
    /// The line (1-based) that is not a public key, and why.
    #[error("line {line}: {error}")]
    Line { line: usize, error: RecipientError },
    /// Only blank lines and comments.
    #[error("holds no public key")]
    Empty,
}

/// Parses the text of a recipients file as `age -R` reads one: one recipient per line
/// (`age1…` or an OpenSSH public key line such as a `.pub` file), blank lines and
/// lines starting with `#` skipped, surrounding blanks ignored.
pub fn parse_recipients_file(text: &str) -> Result<Vec<PackageRecipient>, RecipientFileError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(
            PackageRecipient::parse(line)
                .map_err(|error| RecipientFileError::Line { line: n + 1, error })?,
        );
    }
    if out.is_empty() {
        return Err(RecipientFileError::Empty);
    }
    Ok(out)
}

/// Keeps the first of recipients that are the same key (an SSH key given with and
/// without its comment is the same key).
pub fn dedup_recipients(list: &mut Vec<PackageRecipient>) {
    let mut seen = HashSet::new();
    list.retain(|r| seen.insert(r.as_str().to_string()));
}

/// Why a client's package has no one to be encrypted to.
#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoRecipient {
    #[error("no recipient stored")]
    NoneStored,
    /// Every stored recipient is refused by this version (a key type age dropped, an
    /// RSA key now too weak).
    #[error("its stored recipients are unusable")]
    AllUnusable,
}

/// The recipients of one client's package: those given for this export if any,
/// else the client's stored ones that still parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientChoice {
    pub recipients: Vec<PackageRecipient>,
    /// Stored recipients left out because they no longer parse; 0 when the given
    /// ones are used.
    pub left_out: usize,
    stored: usize,
}

impl RecipientChoice {
    pub fn new(given: &[PackageRecipient], stored: &[String]) -> RecipientChoice {
        if !given.is_empty() {
            return RecipientChoice {
                recipients: given.to_vec(),
                left_out: 0,
                stored: stored.len(),
            };
        }
        let recipients: Vec<PackageRecipient> = stored
            .iter()
            .filter_map(|r| PackageRecipient::parse(r).ok())
            .collect();
        RecipientChoice {
            left_out: stored.len() - recipients.len(),
            recipients,
            stored: stored.len(),
        }
    }

    /// Why there is no one to encrypt to; `None` if there is someone.
    pub fn missing(&self) -> Option<NoRecipient> {
        match (self.recipients.is_empty(), self.stored) {
            (false, _) => None,
            (true, 0) => Some(NoRecipient::NoneStored),
            (true, _) => Some(NoRecipient::AllUnusable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";

    fn age_key() -> String {
        age::x25519::Identity::generate().to_public().to_string()
    }

    #[test]
    fn recipient_files_skip_comments_and_name_the_bad_line() {
        let a = age_key();
        let text = format!("# the client's keys\n\n  {a}  \n{ED} alice@example\n# end\n");
        let list = parse_recipients_file(&text).unwrap();
        assert_eq!(
            list,
            [
                PackageRecipient::Age(a.clone()),
                PackageRecipient::Ssh(ED.into())
            ]
        );
        // A private key given by mistake: the line number, never its text.
        let e = parse_recipients_file(&format!(
            "{a}\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n"
        ))
        .unwrap_err();
        assert_eq!(
            e,
            RecipientFileError::Line {
                line: 2,
                error: RecipientError::PrivateKeyPasted
            }
        );
        assert!(!e.to_string().contains("b3Bl"), "{e}");
        assert_eq!(
            parse_recipients_file("# only a comment\n\n"),
            Err(RecipientFileError::Empty)
        );
        assert_eq!(parse_recipients_file(""), Err(RecipientFileError::Empty));
        assert!(matches!(
            parse_recipients_file("age1\n"),
            Err(RecipientFileError::Line { line: 1, .. })
        ));
    }

    #[test]
    fn repeated_keys_count_once() {
        let a = age_key();
        let mut list = vec![
            PackageRecipient::parse(&a).unwrap(),
            PackageRecipient::parse(&format!("{ED} one")).unwrap(),
            PackageRecipient::parse(&a).unwrap(),
            PackageRecipient::parse(&format!("{ED} two")).unwrap(),
        ];
        dedup_recipients(&mut list);
        assert_eq!(
            list,
            [PackageRecipient::Age(a), PackageRecipient::Ssh(ED.into())]
        );
    }

    #[test]
    fn given_recipients_replace_the_stored_ones() {
        let a = age_key();
        let stored = vec![ED.to_string(), "ssh-dss AAAA".to_string()];
        let given = [PackageRecipient::Age(a.clone())];
        let c = RecipientChoice::new(&given, &stored);
        assert_eq!((c.recipients.as_slice(), c.left_out), (&given[..], 0));
        assert_eq!(c.missing(), None);
        // Without given ones: the stored that still parse, the rest counted.
        let c = RecipientChoice::new(&[], &stored);
        assert_eq!(c.recipients, [PackageRecipient::Ssh(ED.into())]);
        assert_eq!((c.left_out, c.missing()), (1, None));
        let c = RecipientChoice::new(&[], &["ssh-dss AAAA".to_string()]);
        assert_eq!(
            (c.left_out, c.missing()),
            (1, Some(NoRecipient::AllUnusable))
        );
        let c = RecipientChoice::new(&[], &[]);
        assert_eq!(
            (c.left_out, c.missing()),
            (0, Some(NoRecipient::NoneStored))
        );
        assert_eq!(NoRecipient::NoneStored.to_string(), "no recipient stored");
        assert_eq!(
            NoRecipient::AllUnusable.to_string(),
            "its stored recipients are unusable"
        );
    }
}
