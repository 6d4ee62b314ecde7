//! Reading secrets: from the terminal or from a file named by a flag, never from argv
//! or environment values. Errors name the flag, not the file's contents.

use std::io::{IsTerminal, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use zeroize::Zeroizing;

use baton::{Passphrase, SecretBytes, SecretText};

use crate::msg::{self, Result};

/// Reads a whole secret file ('-' = stdin) into zeroizing memory. The path is not
/// echoed in errors: a user who typed a secret where a path belongs must not see it
/// printed back.
pub fn read_secret_file(path: &Path, flag: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::new());
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| msg::stdin_unreadable(flag, &e))?;
        return Ok(buf);
    }
    let mut f = std::fs::File::open(path).map_err(|e| msg::secret_file_unopenable(flag, &e))?;
    if let Ok(m) = f.metadata()
        && m.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "baton: warning: the file given to {flag} is readable by other users (chmod 600 it)"
        );
    }
    f.read_to_end(&mut buf)
        .map_err(|e| msg::secret_file_unreadable(flag, &e))?;
    Ok(buf)
}

/// The first line of a secret file, without its line ending.
pub fn first_line(bytes: &[u8], flag: &str) -> Result<Zeroizing<String>> {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let s = std::str::from_utf8(line).map_err(|_| msg::secret_file_not_text(flag))?;
    Ok(Zeroizing::new(s.to_string()))
}

fn prompt(text: &str) -> Result<Zeroizing<String>> {
    if !std::io::stdin().is_terminal() && std::fs::File::open("/dev/tty").is_err() {
        return Err(msg::no_terminal_passphrase());
    }
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|e| msg::terminal_unreadable(&e))
}

fn from_file(path: &Path, flag: &str) -> Result<Passphrase> {
    let bytes = read_secret_file(path, flag)?;
    let line = first_line(&bytes, flag)?;
    if line.is_empty() {
        return Err(msg::secret_file_empty(flag));
    }
    Ok(Passphrase::new(line.to_string()))
}

/// The passphrase of an existing vault.
pub fn passphrase(file: Option<&Path>, flag: &str) -> Result<Passphrase> {
    match file {
        Some(p) => from_file(p, flag),
        None => Ok(Passphrase::new(prompt("baton: passphrase: ")?.to_string())),
    }
}

/// A new passphrase: from a file, or typed twice on the terminal.
pub fn new_passphrase(file: Option<&Path>, flag: &str) -> Result<Passphrase> {
    let p = match file {
        Some(p) => from_file(p, flag)?,
        None => {
            let a = prompt("baton: new passphrase: ")?;
            let b = prompt("baton: repeat new passphrase: ")?;
            if a != b {
                return Err(msg::secrets_differ("passphrase"));
            }
            Passphrase::new(a.to_string())
        }
    };
    if p.is_empty() {
        return Err(msg::passphrase_empty());
    }
    if p.expose().chars().count() < 12 {
        eprintln!(
            "baton: warning: a passphrase shorter than 12 characters is weak; 'baton generate --words 7' suggests a strong one"
        );
    }
    Ok(p)
}

/// A secret text value from a file ('-' = stdin), one line, trimmed of its line ending.
pub fn secret_text(path: &Path, flag: &str) -> Result<SecretText> {
    let bytes = read_secret_file(path, flag)?;
    let line = first_line(&bytes, flag)?;
    Ok(SecretText::new(line.to_string()))
}

pub fn prompt_secret(what: &str) -> Result<SecretText> {
    let a = prompt(&format!("baton: {what}: "))?;
    let b = prompt(&format!("baton: repeat {what}: "))?;
    if a != b {
        return Err(msg::secrets_differ(what));
    }
    Ok(SecretText::new(a.to_string()))
}

pub fn attachment(path: &Path) -> Result<SecretBytes> {
    let bytes = read_secret_file(path, "the attachment")?;
    Ok(SecretBytes::new(bytes.to_vec()))
}

/// Asks yes/no on the terminal; without a terminal the answer is no.
pub fn confirm(question: &str) -> bool {
    use std::io::Write;
    let Ok(mut tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return false;
    };
    let _ = write!(tty, "{question} [y/N] ");
    let _ = tty.flush();
    let mut line = String::new();
    let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(tty), &mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}
