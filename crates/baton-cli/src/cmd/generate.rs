//! `baton generate`: a password or passphrase.

use std::io::IsTerminal;

use crate::cli::{self};
use crate::msg::Result;

pub(crate) fn cmd_generate(a: cli::GenerateArgs) -> Result<()> {
    let (secret, bits) = match a.words {
        Some(n) => baton::generate::passphrase(n),
        None => baton::generate::password(a.length.unwrap_or(24), !a.no_symbols),
    };
    println!("{}", secret.expose());
    if std::io::stderr().is_terminal() {
        eprintln!("({bits:.0} bits of entropy)");
    }
    Ok(())
}
