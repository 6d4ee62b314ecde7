//! Share files for the holders (docs/format.md#share-files): where they may be
//! written, and writing them.

use std::path::{Path, PathBuf};

use baton::vault::HolderShare;

use crate::msg::{Failure, Result, esc};

/// Checks the share folder before any key exists: the shares exist only once, so a
/// folder that cannot take them must be refused up front.
pub fn check_out_dir(vault: &Path, shares_dir: &Path, holders: &[String]) -> Result<()> {
    let (vault_real, shares_real) = (resolve(vault), resolve(shares_dir));
    // The shares must never enter the (synced) vault folder: anyone who can read it would
    // get T shares at once.
    if shares_real.starts_with(&vault_real) || vault_real.starts_with(&shares_real) {
        return Err(
            Failure::new("the share folder must not be inside the vault (or contain it)").hint(
                "shares belong to the holders: use --shares-out DIR on a local, unsynced disk",
            ),
        );
    }
    if shares_real.parent() == vault_real.parent() {
        eprintln!(
            "baton: warning: the share folder is next to the vault; if that folder syncs, hand out the shares and delete the folder right away"
        );
    }
    // Check the share folder before anything is created: the shares exist only once.
    let mut names = std::collections::HashSet::new();
    for h in holders {
        if !names.insert(holder_file_name(h)) {
            return Err(Failure::new(format!(
                "two holders map to the same share file name ({})",
                holder_file_name(h)
            ))
            .hint("give holders distinct names"));
        }
    }
    if shares_dir.exists()
        && std::fs::read_dir(shares_dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Failure::new(format!(
            "share folder {} exists and is not empty",
            esc(&shares_dir.display().to_string())
        ))
        .hint("choose a new folder with --shares-out DIR"));
    }
    Ok(())
}

pub fn write(
    dir: &Path,
    h: &baton::header::Header,
    shares: &[HolderShare],
) -> Result<Vec<(String, PathBuf)>> {
    baton::fsio::create_private_dir(dir).map_err(|e| {
        Failure::new(format!(
            "cannot create share folder {}: {e}",
            esc(&dir.display().to_string())
        ))
    })?;
    let mut written = Vec::new();
    for s in shares {
        let text = zeroize::Zeroizing::new(format!(
            "# baton emergency share for {}\n# vault {}, share set {}, {} of {}, member {}\n{}\n",
            s.holder,
            h.vault_id,
            h.share_set.id,
            h.share_set.threshold,
            h.share_set.count,
            s.member_index + 1,
            s.mnemonic.expose_words()
        ));
        let p = dir.join(holder_file_name(&s.holder));
        baton::fsio::write_new(&p, text.as_bytes()).map_err(|e| {
            Failure::new(format!(
                "cannot write share file {}: {e}",
                esc(&p.display().to_string())
            ))
        })?;
        written.push((s.holder.clone(), p));
    }
    Ok(written)
}

fn holder_file_name(holder: &str) -> String {
    let s: String = holder
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{s}.txt")
}

/// An absolute, symlink-resolved form of a path that may not exist yet: the deepest
/// existing ancestor is canonicalized and the rest appended.
fn resolve(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(p), Some(name)) => {
                rest.push(name.to_os_string());
                existing = p;
            }
            _ => break,
        }
    }
    let mut out = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    for name in rest.into_iter().rev() {
        out.push(name);
    }
    out
}

/// Lists the share files written, one line per holder.
pub fn print_written(written: &[(String, PathBuf)]) {
    for (holder, file) in written {
        println!("  {:<16} {}", esc(holder), esc(&file.display().to_string()));
    }
}
