//! Share files for the holders (docs/format.md#share-files): where they may be
//! written, and writing them.

use std::path::{Path, PathBuf};

use baton::emergency::HolderShare;
use baton::export::{Lock, PackageRecipient, seal_package};
use baton::render::kit::KitContext;

use crate::cli::KitArgs;

use crate::msg::{self, Result, esc};

/// Checks a kit folder before any key exists: a folder that cannot take the kits must
/// be refused up front.
pub fn check_out_dir(vault: &Path, shares_dir: &Path, holders: &[String]) -> Result<()> {
    check_private_dir(vault, shares_dir, "kit folder")?;
    if baton::fs::resolve(shares_dir).parent() == baton::fs::resolve(vault).parent() {
        eprintln!(
            "baton: warning: the kit folder is next to the vault; if that folder syncs, hand out the kits and delete the folder right away"
        );
    }
    let mut names = std::collections::HashSet::new();
    for h in holders {
        if !names.insert(holder_file_name(h)) {
            return Err(msg::holders_same_file(&holder_file_name(h)));
        }
    }
    Ok(())
}

/// A folder for secrets (kits, a recovered key): never inside the vault, which may
/// sync, nor containing it; new or empty.
pub fn check_private_dir(vault: &Path, dir: &Path, what: &str) -> Result<()> {
    // Anyone who can read the (synced) vault folder would get what is in it.
    if baton::fs::overlaps(vault, dir) {
        return Err(msg::private_dir_in_vault(what));
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(msg::private_dir_not_empty(what, dir));
    }
    Ok(())
}

/// How kits are written: which holders `--holder` names, which of them get theirs
/// encrypted, and whether PDFs are made.
pub struct KitOptions {
    names: Vec<String>,
    keys: Vec<(String, PackageRecipient)>,
    pdf: Option<PathBuf>,
    /// Where Chromium reads and writes the plaintext while printing: the user's
    /// private runtime folder (a tmpfs) if there is one, else the kit folder.
    print_dir: Option<PathBuf>,
}

impl KitOptions {
    /// Takes the holders `--holder` names (each once: a second key for the same holder
    /// would otherwise be dropped) and finds Chromium for `--pdf`.
    pub fn from_args(a: &KitArgs) -> Result<KitOptions> {
        let mut names: Vec<String> = Vec::new();
        let mut keys = Vec::new();
        for spec in &a.holder_keys {
            if names.iter().any(|n| n.eq_ignore_ascii_case(&spec.name)) {
                return Err(msg::holder_twice(&spec.name));
            }
            names.push(spec.name.clone());
            if let Some(r) = &spec.key {
                keys.push((spec.name.clone(), r.clone()));
            }
        }
        let pdf = if a.pdf {
            Some(chromium().ok_or_else(msg::no_chromium)?)
        } else {
            None
        };
        let print_dir = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_dir());
        if pdf.is_some() && !keys.is_empty() && print_dir.is_none() {
            return Err(msg::pdf_with_holder_key());
        }
        Ok(KitOptions {
            names,
            keys,
            pdf,
            print_dir,
        })
    }

    /// Every holder named by `--holder` must hold a share.
    pub fn check_names(&self, holders: &[String]) -> Result<()> {
        for name in &self.names {
            if !holders.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                return Err(msg::holder_not_found(name, holders));
            }
        }
        Ok(())
    }

    /// The holders `--holder` names, in the order given (`emergency kits` writes only
    /// theirs).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn key_of(&self, holder: &str) -> Option<&PackageRecipient> {
        self.keys
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(holder))
            .map(|(_, r)| r)
    }
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|c| std::env::split_paths(&path).map(move |d| d.join(c)))
        .find(|p| p.is_file())
}

/// Before any key exists: parses the kit options, checks that `--holder` names only
/// holders, and that `dir` can take the kits.
pub fn prepare(vault: &Path, dir: &Path, holders: &[String], a: &KitArgs) -> Result<KitOptions> {
    let opts = KitOptions::from_args(a)?;
    opts.check_names(holders)?;
    check_out_dir(vault, dir, holders)?;
    Ok(opts)
}

/// Writes each holder's share file (`<holder>.txt`, docs/format.md#share-files) and
/// printable kit (`<holder>.kit.html`, and `.kit.pdf` with --pdf). A holder with a key
/// gets only `.age` files encrypted to it. Returns (holder, file) for every file.
pub fn write(
    dir: &Path,
    ctx: &KitContext,
    shares: &[HolderShare],
    opts: &KitOptions,
) -> Result<Vec<(String, PathBuf)>> {
    baton::fs::create_private_dir(dir).map_err(|e| msg::dir_uncreatable(dir, &e))?;
    let h = ctx.header;
    let mut written = Vec::new();
    for s in shares {
        let name = &s.holder.name;
        let head = format!(
            "# baton emergency share for {}\n# vault {}, share set {}, group {} share {}, check code {}\n",
            name,
            h.vault_id,
            h.share_set.id,
            s.holder.group + 1,
            s.holder.member + 1,
            baton::emergency::format_check(&s.check),
        );
        let text = baton::crypto::secret::concat_secret(&[&head, s.mnemonic.expose_words(), "\n"]);
        let kit = baton::render::kit::html(ctx, s);
        let stem = holder_stem(name);
        let key = opts.key_of(name);
        let mut files: Vec<(String, zeroize::Zeroizing<Vec<u8>>)> = vec![
            (
                format!("{stem}.txt"),
                zeroize::Zeroizing::new(text.as_bytes().to_vec()),
            ),
            (
                format!("{stem}.kit.html"),
                zeroize::Zeroizing::new(kit.as_bytes().to_vec()),
            ),
        ];
        if let Some(browser) = &opts.pdf {
            files.push((
                format!("{stem}.kit.pdf"),
                print_pdf(
                    browser,
                    opts.print_dir.as_deref().unwrap_or(dir),
                    &stem,
                    &kit,
                )?,
            ));
        }
        for (file, bytes) in files {
            let (file, bytes) = match key {
                Some(r) => {
                    let sealed =
                        seal_package(&bytes, &Lock::Recipients(std::slice::from_ref(r)), false)
                            .map_err(|e| msg::kit_unencryptable(name, &e))?;
                    (format!("{file}.age"), zeroize::Zeroizing::new(sealed))
                }
                None => (file, bytes),
            };
            let p = dir.join(&file);
            baton::fs::write_new(&p, &bytes).map_err(|e| msg::cannot_write(&p, &e))?;
            written.push((name.clone(), p));
        }
    }
    Ok(written)
}

/// The `deliver` step of init, rotation and takeover: writes the kits into `dir`
/// before the new keys are used, and on failure removes the folder if it made it.
pub fn deliverer<'a>(
    dir: &'a Path,
    owner: &'a baton::OwnerProfile,
    policy: &'a baton::emergency::Policy,
    opts: &'a KitOptions,
    delivered: &'a mut Vec<(String, PathBuf)>,
) -> impl FnOnce(&baton::Header, &[HolderShare]) -> std::result::Result<(), String> + 'a {
    let existed = dir.exists();
    move |header, shares| {
        let kctx = KitContext {
            header,
            owner,
            policy,
        };
        write(dir, &kctx, shares, opts)
            .map(|w| *delivered = w)
            .map_err(|f| {
                if !existed {
                    let _ = std::fs::remove_dir_all(dir);
                }
                f.message
            })
    }
}

/// Prints one kit to PDF with headless Chromium. The HTML goes into a private folder
/// inside `dir` for the browser to read, and that folder is removed afterwards (the
/// user's runtime folder, a tmpfs, where there is one: see KitOptions).
fn print_pdf(
    browser: &Path,
    dir: &Path,
    stem: &str,
    kit: &str,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let work = tempfile::Builder::new()
        .prefix(".kit-print-")
        .tempdir_in(dir)
        .map_err(|e| msg::print_failed("cannot create a folder for printing", &e))?;
    let html = work.path().join(format!("{stem}.html"));
    let pdf = work.path().join(format!("{stem}.pdf"));
    baton::fs::write_new(&html, kit.as_bytes())
        .map_err(|e| msg::print_failed("cannot write a kit for printing", &e))?;
    let status = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(baton::fs::file_url(&html))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| msg::print_failed("cannot run Chromium", &e))?;
    let bytes = std::fs::read(&pdf).ok().filter(|b| b.starts_with(b"%PDF"));
    match bytes {
        Some(b) if status.success() => Ok(zeroize::Zeroizing::new(b)),
        _ => Err(msg::chromium_no_pdf()),
    }
}

fn holder_file_name(holder: &str) -> String {
    format!("{}.txt", holder_stem(holder))
}

/// The holder's name as a file name: lowercase, characters other than a-z 0-9 - _
/// replaced by `_`.
fn holder_stem(holder: &str) -> String {
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
    s
}

/// Lists the share files written, one line per holder.
pub fn print_written(written: &[(String, PathBuf)]) {
    for (holder, file) in written {
        println!("  {:<16} {}", esc(holder), esc(&file.display().to_string()));
    }
}
