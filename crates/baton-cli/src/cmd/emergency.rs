//! The emergency handover on the command line (docs/recovery.md): kits, share checks,
//! drills, more holders, a new share set, recovery and takeover.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use baton::EmergencySecret;
use baton::Header;
use baton::audit::AuditAction;
use baton::emergency::{Collector, Policy, ShareError, Verdict, format_check};
use baton::render::kit::KitContext;
use baton::slip39::{self, Mnemonic, Slip39Error};
use baton::vault::Access;
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::{EmergencyCmd, RecoverArgs, ShareInput, TakeoverArgs};
use crate::msg::{self, Failure, Result, esc};
use crate::shares;
use crate::{Ctx, Opened, input};

/// Words in a share of a 256-bit emergency key.
const SHARE_WORDS: usize = 33;

pub fn run(ctx: &Ctx, c: EmergencyCmd) -> Result<()> {
    match c {
        EmergencyCmd::Kits { out_dir, kits } => {
            // `--holder anna` selects anna; `--holder anna=age1...` also encrypts her kit.
            let path = ctx.vault_path()?;
            let v = ctx.open(Access::Read)?;
            let opts = shares::prepare(&path, &out_dir, &v.policy().holder_names(), &kits)?;
            let chosen = v.holder_shares(opts.names())?;
            let policy = v.policy();
            let kctx = KitContext {
                header: v.header(),
                owner: &v.index().owner,
                policy: &policy,
            };
            let written = shares::write(&out_dir, &kctx, &chosen, &opts)?;
            println!(
                "kits for share set {} ({}) in {}:",
                v.header().share_set.id,
                esc(&policy.describe()),
                esc(&out_dir.display().to_string())
            );
            shares::print_written(&written);
            println!("{}", msg::HAND_OUT);
            Ok(())
        }
        EmergencyCmd::CheckShare {
            input,
            vault_id,
            json,
        } => check_share(ctx, &input, vault_id.as_deref(), json.json),
        EmergencyCmd::Drill { input } => drill(ctx, &input),
        EmergencyCmd::AddHolder {
            name,
            group,
            out_dir,
            kits,
        } => {
            let path = ctx.vault_path()?;
            let opts = shares::prepare(&path, &out_dir, std::slice::from_ref(&name), &kits)?;
            let mut v = ctx.open(Access::Write)?;
            let mut holders = v.index().holders.clone();
            let owner = v.index().owner.clone();
            let mut delivered = Vec::new();
            let mut policy = v.policy();
            let holder = v.add_holder(&name, group, |header, share| {
                holders.extend(share.iter().map(|s| s.holder.clone()));
                policy = Policy::of(&header.share_set, &holders);
                shares::deliverer(&out_dir, &owner, &policy, &opts, &mut delivered)(header, share)
            })?;
            println!(
                "{} now holds share {} of group {} of share set {} ({})",
                esc(&name),
                holder.member + 1,
                holder.group + 1,
                v.header().share_set.id,
                esc(&policy.describe())
            );
            shares::print_written(&delivered);
            println!(
                "the other holders' shares are unchanged; their kits list the holders as they were when printed ('baton emergency kits' prints current ones)"
            );
            Ok(())
        }
        EmergencyCmd::Reissue(shares) => crate::cmd::rotate::rotate_emergency(ctx, shares),
    }
}

// ------------------------------------------------------------------ typing shares

/// Where typed shares come from and where prompts go; the terminal in real use.
pub trait Keyboard {
    /// One line, not echoed.
    fn ask(&mut self, prompt: &str) -> Result<Zeroizing<String>>;
    fn say(&mut self, line: &str);
}

struct Terminal;

impl Keyboard for Terminal {
    fn ask(&mut self, prompt: &str) -> Result<Zeroizing<String>> {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| msg::keyboard_failed(&e))
    }
    fn say(&mut self, line: &str) {
        eprintln!("{line}");
    }
}

fn share_failure(e: ShareError, vault_id: &str, source: &str) -> Failure {
    msg::share(e, vault_id, source)
}

/// What is still missing, from the public header alone (names are in the index).
fn need_text(c: &Collector) -> String {
    let need = c.need();
    if need.groups.len() == 1 {
        let (have, t) = need.groups[0];
        return format!("{have} of {t} shares given");
    }
    let parts: Vec<String> = need
        .groups
        .iter()
        .enumerate()
        .map(|(i, (have, t))| format!("group {}: {have} of {t}", i + 1))
        .collect();
    format!(
        "{} of {} groups complete ({})",
        need.complete_groups(),
        need.groups_needed,
        parts.join(", ")
    )
}

/// The text of a share file: everything outside `#` comment lines.
fn share_file_texts(path: &Path) -> Result<Vec<Zeroizing<String>>> {
    let stdin = path.as_os_str() == "-";
    let bytes = input::read_secret_file(path, "--share-file")?;
    let text = std::str::from_utf8(&bytes).map_err(|_| msg::share_file_not_text())?;
    let lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    Ok(if stdin {
        lines.map(|l| Zeroizing::new(l.to_string())).collect()
    } else {
        vec![Zeroizing::new(lines.collect::<Vec<_>>().join(" "))]
    })
}

fn file_label(path: &Path, i: usize, of: usize) -> String {
    if path.as_os_str() == "-" {
        format!("share {} from stdin", i + 1)
    } else if of > 1 {
        format!(
            "share file {} (share {})",
            esc(&path.display().to_string()),
            i + 1
        )
    } else {
        format!("share file {}", esc(&path.display().to_string()))
    }
}

/// Collects shares until they rebuild the emergency key, proven against the header's
/// emergency recipient. Returns it and the (group, member) of every share used.
pub fn collect(h: &Header, input: &ShareInput) -> Result<(EmergencySecret, Vec<(u8, u8)>)> {
    let mut c = Collector::new(&h.vault_id, &h.share_set, &h.recipients.emergency);
    if input.share_files.is_empty() {
        let mut kb = Terminal;
        if !std::io::stdin().is_terminal() && std::fs::File::open("/dev/tty").is_err() {
            return Err(msg::no_terminal_shares());
        }
        type_shares(&mut kb, h, &mut c)?;
    } else {
        for path in &input.share_files {
            let texts = share_file_texts(path)?;
            for (i, text) in texts.iter().enumerate() {
                let label = file_label(path, i, texts.len());
                if c.need().done() {
                    eprintln!("baton: note: {label} is not needed: enough shares were given");
                    continue;
                }
                match c.add(text) {
                    Ok((g, m)) => eprintln!(
                        "baton: {label}: accepted ({}share {}, check code {}), {}",
                        group_prefix(h, g),
                        m + 1,
                        h.share_set
                            .check_of(g, m)
                            .map(format_check)
                            .unwrap_or_default(),
                        need_text(&c)
                    ),
                    Err(e @ (ShareError::GroupComplete { .. } | ShareError::NotNeeded)) => {
                        eprintln!("baton: note: {label}: {e}");
                    }
                    Err(e) => return Err(share_failure(e, &h.vault_id, &label)),
                }
            }
        }
        if !c.need().done() {
            return Err(msg::not_enough_shares(&need_text(&c)));
        }
    }
    let e = c
        .combine()
        .map_err(|e| share_failure(e, &h.vault_id, "the shares"))?;
    Ok((e, c.taken()))
}

fn group_prefix(h: &Header, g: u8) -> String {
    if h.share_set.groups.len() > 1 {
        format!("group {}, ", g + 1)
    } else {
        String::new()
    }
}

/// Word-by-word entry: each word is checked as it is typed (the first four letters are
/// enough), the share set is checked after the second word, and a checksum error
/// names the one wrong word, which alone is asked again.
pub fn type_shares(kb: &mut dyn Keyboard, h: &Header, c: &mut Collector) -> Result<()> {
    kb.say(&format!(
        "baton: enter the shares, word by word ({SHARE_WORDS} words each; the first 4 letters of a word are enough; nothing is shown while typing)"
    ));
    let mut n = 1;
    while !c.need().done() {
        kb.say(&format!("share {n} ({}):", need_text(c)));
        let mut words = type_words(kb, Some(&h.share_set), &h.vault_id)?;
        loop {
            let text = Zeroizing::new(
                words
                    .iter()
                    .map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            match c.add(&text) {
                Ok((g, m)) => {
                    kb.say(&format!(
                        "  accepted: {}share {}, check code {}",
                        group_prefix(h, g),
                        m + 1,
                        h.share_set
                            .check_of(g, m)
                            .map(format_check)
                            .unwrap_or_default()
                    ));
                    break;
                }
                Err(ShareError::Invalid {
                    mistyped: Some(k), ..
                }) => {
                    kb.say(&format!(
                        "  the checksum points to word {k}: compare it with the kit and type it again"
                    ));
                    words[k - 1] = type_one_word(kb, k)?;
                }
                Err(e) => {
                    kb.say(&format!("  not taken: {e}"));
                    kb.say(&format!("  {}", msg::share_hint(&e, &h.vault_id)));
                    break;
                }
            }
        }
        n += 1;
    }
    Ok(())
}

fn type_one_word(kb: &mut dyn Keyboard, k: usize) -> Result<Zeroizing<String>> {
    loop {
        let line = kb.ask(&format!("  word {k}/{SHARE_WORDS}: "))?;
        let token = line.trim();
        match slip39::check_word(token) {
            Ok(()) if !token.contains(char::is_whitespace) => {
                return Ok(Zeroizing::new(token.to_string()));
            }
            Ok(()) => kb.say("  one word only"),
            Err(Slip39Error::AmbiguousPrefix { .. }) => {
                kb.say("  type at least the first 4 letters")
            }
            Err(_) => kb.say("  not a SLIP-39 word: check the spelling on the kit"),
        }
    }
}

/// One share's words. A line may hold several words (a pasted share); every word is
/// checked as it comes.
fn type_words(
    kb: &mut dyn Keyboard,
    set: Option<&baton::ShareSet>,
    vault_id: &str,
) -> Result<Vec<Zeroizing<String>>> {
    let mut words: Vec<Zeroizing<String>> = Vec::with_capacity(SHARE_WORDS);
    while words.len() < SHARE_WORDS {
        let k = words.len() + 1;
        let line = kb.ask(&format!("  word {k}/{SHARE_WORDS}: "))?;
        if line.trim().is_empty() {
            continue;
        }
        for token in line.split_whitespace() {
            let k = words.len() + 1;
            if k > SHARE_WORDS {
                kb.say(&format!(
                    "  more than {SHARE_WORDS} words: the rest of the line was ignored"
                ));
                break;
            }
            match slip39::check_word(token) {
                Ok(()) => words.push(Zeroizing::new(token.to_string())),
                Err(Slip39Error::AmbiguousPrefix { .. }) => {
                    kb.say(&format!("  word {k}: type at least its first 4 letters"));
                    break;
                }
                Err(_) => {
                    kb.say(&format!(
                        "  word {k} is not a SLIP-39 word: check the spelling on the kit"
                    ));
                    break;
                }
            }
            if words.len() == 2
                && let Some(set) = set
                && let Some((id, _)) = slip39::identifier_of_first_words(&words[0], &words[1])
            {
                let id = format!("{id:04x}");
                if id != set.id {
                    match set.retired.iter().find(|r| r.id == id) {
                        Some(r) => kb.say(&format!(
                            "  these words begin a share of set {id}, which was replaced on {}: that kit is void. Start again with a current kit.",
                            baton::time::day_of(&r.retired)
                        )),
                        None => kb.say(&format!(
                            "  these words begin a share of set {id}, not of this vault's set {}: check the vault id on the kit ({}). Start again.",
                            set.id, vault_id
                        )),
                    }
                    words.clear();
                    break;
                }
            }
        }
    }
    Ok(words)
}

// ------------------------------------------------------------------ commands

/// The words of one share, from a file or typed.
fn one_share(
    input: &ShareInput,
    set: Option<&baton::ShareSet>,
    vault_id: &str,
) -> Result<Zeroizing<String>> {
    Ok(match input.share_files.as_slice() {
        [] => {
            if !std::io::stdin().is_terminal() && std::fs::File::open("/dev/tty").is_err() {
                return Err(msg::no_terminal_share());
            }
            let mut kb = Terminal;
            kb.say("baton: type your share, word by word (the first 4 letters of each word are enough; nothing is shown)");
            let words = type_words(&mut kb, set, vault_id)?;
            Zeroizing::new(
                words
                    .iter()
                    .map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }
        [one] => {
            let mut t = share_file_texts(one)?;
            if t.len() != 1 {
                return Err(msg::one_share_only());
            }
            t.remove(0)
        }
        _ => return Err(msg::one_share_only()),
    })
}

/// Parses a share; a checksum error names the mistyped word where it can.
fn parse_checked(text: &str, vault_id: &str) -> Result<Mnemonic> {
    baton::emergency::parse_share(text).map_err(|e| share_failure(e, vault_id, "the share"))
}

/// `check-share --vault-id ID` without the vault: the words and checksum are checked,
/// and the check code is shown to compare with the kit.
fn check_share_offline(input: &ShareInput, vault_id: &str, json_out: bool) -> Result<()> {
    let vault_id = vault_id.trim().to_ascii_lowercase();
    if !(vault_id.len() == 32 && vault_id.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(msg::bad_vault_id());
    }
    let text = one_share(input, None, &vault_id)?;
    let m = parse_checked(&text, &vault_id)?;
    let check = baton::emergency::share_check(&vault_id, &m);
    let info = m.info();
    if json_out {
        crate::print_json(&json!({
            "status": "valid",
            "share_set": format!("{:04x}", info.identifier),
            "group": info.group_index + 1,
            "member": info.member_index + 1,
            "check": check,
            "vault_id": vault_id,
        }));
    } else {
        println!(
            "valid: a share of set {:04x} (group {}, share {}), check code {}",
            info.identifier,
            info.group_index + 1,
            info.member_index + 1,
            format_check(&check)
        );
        println!(
            "compare the check code with your kit: if they are the same, your words are right. If they differ, check the vault id you typed first, then the words. Whether the set is still the vault's current one only a copy of the vault can tell (--vault DIR)."
        );
    }
    Ok(())
}

fn check_share(
    ctx: &Ctx,
    input: &ShareInput,
    vault_id: Option<&str>,
    json_out: bool,
) -> Result<()> {
    let path = match (ctx.vault_path(), vault_id) {
        (Ok(p), _) => p,
        (Err(_), Some(id)) => return check_share_offline(input, id, json_out),
        (Err(f), None) => return Err(msg::vault_id_or_vault(f)),
    };
    let h = baton::vault::read_header(&path)?;
    let text = one_share(input, Some(&h.share_set), &h.vault_id)?;
    let m = parse_checked(&text, &h.vault_id)?;
    let check = baton::emergency::share_check(&h.vault_id, &m);
    let verdict = baton::emergency::classify(&h.vault_id, &h.share_set, &m);
    let info = m.info();
    // (passes, status for --json, what is wrong in a few words, the full answer)
    let (ok, status, short, detail) = match &verdict {
        Verdict::Current { group, member } => (
            true,
            "current",
            "",
            format!(
                "valid: {}share {} of this vault's current share set {} ({}), check code {}",
                group_prefix(&h, *group),
                member + 1,
                h.share_set.id,
                h.share_set.summary(),
                format_check(&check)
            ),
        ),
        Verdict::Retired(r) => (
            false,
            "retired",
            "this share is void: its set was replaced",
            format!(
                "the words are typed correctly (check code {}), but share set {} was replaced on {}: this share opens nothing written since; destroy this kit once you have the new one",
                format_check(&check),
                r.id,
                baton::time::day_of(&r.retired)
            ),
        ),
        Verdict::Foreign { id } => (
            false,
            "foreign",
            "this share is not from this vault",
            format!(
                "the words are typed correctly (check code {}), but they are a share of set {id}, not of this vault (vault {}, share set {})",
                format_check(&check),
                h.vault_id,
                h.share_set.id
            ),
        ),
        Verdict::NotIssued => (
            false,
            "not-issued",
            "this vault did not issue this share",
            format!(
                "the words are valid and carry this vault's set id {}, but this vault never issued this share (check code {} is not on record): another vault's, or altered",
                h.share_set.id,
                format_check(&check)
            ),
        ),
    };
    if json_out {
        crate::print_json(&json!({
            "status": status,
            "share_set": format!("{:04x}", info.identifier),
            "group": info.group_index + 1,
            "member": info.member_index + 1,
            "check": check,
            "current_share_set": h.share_set.id,
            "vault_id": h.vault_id,
        }));
    } else {
        println!("{detail}");
    }
    if ok {
        Ok(())
    } else {
        Err(msg::share_not_current(short))
    }
}

/// Opens with the rebuilt key, for writing (to record the event) unless the folder is
/// read-only (a copy on a read-only medium).
fn open_rebuilt(ctx: &Ctx, path: &Path, e: &EmergencySecret) -> Result<(Opened, bool)> {
    if baton::fs::is_read_only_folder(path) {
        return Ok((ctx.open_emergency(e, Access::Read)?, false));
    }
    Ok((ctx.open_emergency(e, Access::Write)?, true))
}

fn drill(ctx: &Ctx, input: &ShareInput) -> Result<()> {
    let path = ctx.vault_path()?;
    let h = baton::vault::read_header(&path)?;
    let (e, taken) = collect(&h, input)?;
    let (mut v, writable) = open_rebuilt(ctx, &path, &e)?;
    drop(e);
    let who = v.holders_of(&taken).join(", ");
    let clients = v.clients().map(|c| c.len()).ok();
    if writable {
        v.record_drill(&taken)?;
    } else {
        eprintln!(
            "baton: note: the vault folder is read-only, so this drill is not in its audit log"
        );
    }
    println!(
        "drill passed: the shares of {} rebuild the emergency key of vault {} (share set {})",
        esc(&who),
        h.vault_id,
        h.share_set.id
    );
    if let Some(n) = clients {
        println!(
            "the key opens the vault's index ({n} clients); nothing was decrypted beyond that"
        );
    }
    Ok(())
}

pub fn recover(ctx: &Ctx, a: RecoverArgs) -> Result<()> {
    let path = ctx.vault_path()?;
    let h = baton::vault::read_header(&path)?;
    shares::check_private_dir(&path, &a.out_dir, "key folder")?;
    let (e, taken) = collect(&h, &a.input)?;
    let (mut v, _) = open_rebuilt(ctx, &path, &e)?;
    drop(e);
    let r = v.recover(&taken, &a.out_dir)?;
    if !r.recorded && v.is_writable() {
        eprintln!(
            "baton: note: the audit log is damaged (see the problems below), so this {} is not in it",
            AuditAction::EmergencyRecover
        );
    } else if !r.recorded {
        eprintln!(
            "baton: note: the vault folder is read-only, so this {} is not in its audit log",
            AuditAction::EmergencyRecover
        );
    }
    let key_file = &r.key_file;
    println!(
        "recovered: the shares of {} rebuild the emergency key of vault {}",
        esc(&r.holders.join(", ")),
        h.vault_id
    );
    println!(
        "emergency key written to {} (mode 0600)",
        esc(&key_file.display().to_string())
    );
    if r.problems.is_empty() {
        println!("{} clients; every file checks out", r.clients);
    } else {
        println!(
            "{} problem(s) found; 'baton verify' lists them. The rest is readable.",
            r.problems.len()
        );
    }
    let key = esc(&key_file.display().to_string());
    let vault = esc(&path.display().to_string());
    println!("next:");
    println!("  baton --vault {vault} --identity {key} list");
    println!("  baton --vault {vault} --identity {key} export CLIENT --format kdbx");
    println!(
        "  baton --vault {vault} --identity {key} takeover --owner-name \"YOUR NAME\" --holders NAME,NAME -t 2 --out-dir DIR"
    );
    println!("keep the key file on an encrypted disk and delete it after the takeover");
    Ok(())
}

pub fn takeover(ctx: &Ctx, a: TakeoverArgs) -> Result<()> {
    let path = ctx.vault_path()?;
    let policy = crate::args::policy(&a.policy)?.ok_or_else(msg::takeover_without_holders)?;
    let opts = shares::prepare(&path, &a.out_dir, &policy.holder_names(), &a.kits)?;
    // The new passphrase's Argon2id parameters come from the flags (default: RFC 9106),
    // never from vault.json, which the emergency key does not authenticate.
    let kdf = crate::args::kdf_params(&a.kdf)?;
    let mut v = match ctx.identity_secret()? {
        Some(e) => ctx.open_emergency(&e, Access::Write)?,
        None => {
            let h = baton::vault::read_header(&path)?;
            let (e, _) = collect(&h, &a.input)?;
            ctx.open_emergency(&e, Access::Write)?
        }
    };
    if a.new_passphrase_file.is_none() {
        eprintln!("baton: choose your passphrase as the new owner");
    }
    let passphrase =
        input::new_passphrase(a.new_passphrase_file.as_deref(), "--new-passphrase-file")?;
    // The kits and client packages name the new owner from now on: recorded before the
    // re-keying, so the new holders' kits show it.
    let mut profile = v.index().owner.clone();
    profile.name = a.owner_name.clone();
    profile.contact = a.owner_contact.clone();
    profile.successor = a.successor.clone();
    if let Some(c) = &a.vault_copies {
        profile.vault_copies = c.clone();
    }
    if profile != v.index().owner {
        v.set_owner_profile(profile)?;
    }
    let bar = crate::cmd::rotate::Bar::new();
    let progress = |p| bar.update(p);
    let mut delivered: Vec<(String, PathBuf)> = Vec::new();
    let owner = v.index().owner.clone();
    let result = v.take_over(
        &passphrase,
        kdf,
        policy.clone(),
        shares::deliverer(&a.out_dir, &owner, &policy, &opts, &mut delivered),
        &progress,
    );
    bar.finish();
    let r = result.map_err(msg::rotate)?;
    crate::cmd::rotate::print_report(&r);
    println!(
        "you are the owner now: open the vault with the new passphrase; the old passphrase and the old shares open nothing from generation {} on",
        r.to_generation
    );
    println!("kits for the new holders ({}):", esc(&policy.describe()));
    shares::print_written(&delivered);
    println!("{}", msg::HAND_OUT);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton::emergency::{Policy, holder_shares, new_share_set};
    use baton::{Recipients, ShareSet};
    use std::collections::VecDeque;

    /// Typed lines in order; what baton said, for the assertions.
    struct Script {
        lines: VecDeque<String>,
        said: Vec<String>,
        prompts: Vec<String>,
    }

    impl Keyboard for Script {
        fn ask(&mut self, prompt: &str) -> Result<Zeroizing<String>> {
            self.prompts.push(prompt.to_string());
            self.lines
                .pop_front()
                .map(Zeroizing::new)
                .ok_or_else(|| Failure::new("script ended"))
        }
        fn say(&mut self, line: &str) {
            self.said.push(line.to_string());
        }
    }

    fn script(lines: Vec<String>) -> Script {
        Script {
            lines: lines.into(),
            said: vec![],
            prompts: vec![],
        }
    }

    const VID: &str = "00112233445566778899aabbccddeeff";

    /// A header for a 2-of-3 set, an earlier set it replaced, and the shares of both.
    fn fixture() -> (Header, Vec<String>, Vec<String>) {
        let policy = Policy::single(vec!["anna".into(), "ben".into(), "carla".into()], 2);
        let old_e = EmergencySecret::from_bytes(&[1; 32]).unwrap();
        let (old, oh) = new_share_set(&old_e, VID, &policy, "2025-01-01T00:00:00Z", None).unwrap();
        let e = EmergencySecret::from_bytes(&[2; 32]).unwrap();
        let (set, holders) =
            new_share_set(&e, VID, &policy, "2026-01-01T00:00:00Z", Some(&old)).unwrap();
        let words = |e: &EmergencySecret, s: &ShareSet, h| {
            holder_shares(e, VID, s, h)
                .unwrap()
                .iter()
                .map(|x| x.mnemonic.expose_words().to_string())
                .collect::<Vec<_>>()
        };
        let current = words(&e, &set, &holders);
        let retired = words(&old_e, &old, &oh);
        let header = Header {
            format: "baton-vault".into(),
            version: 2,
            vault_id: VID.into(),
            created: String::new(),
            generation: 1,
            recipients: Recipients {
                owner: String::new(),
                emergency: e.identity().to_public().to_string(),
            },
            kdf: baton::KdfParams::insecure_test(),
            passphrase_check: String::new(),
            owner_key: String::new(),
            share_set: set,
            rotation: Default::default(),
            previous_key: None,
        };
        (header, current, retired)
    }

    /// Each word of a share as its own typed line, shortened to 4 letters.
    fn by_prefix(share: &str) -> Vec<String> {
        share
            .split(' ')
            .map(|w| w.chars().take(4).collect())
            .collect()
    }

    #[test]
    fn shares_typed_word_by_word_with_prefixes_and_mistakes() {
        let (h, current, retired) = fixture();
        let mut lines = Vec::new();
        // An old set's share is caught after its second word.
        lines.extend(by_prefix(&retired[0]).into_iter().take(2));
        // Anna: a word not on the list, then the right one; 4-letter prefixes.
        let anna = by_prefix(&current[0]);
        lines.push(anna[0].clone());
        lines.push("xylophone".into());
        lines.extend(anna[1..].iter().cloned());
        // Anna again (a duplicate), whole share pasted on one line.
        lines.push(current[0].clone());
        // Carla with word 5 swapped for another list word: only word 5 is asked again.
        let mut carla: Vec<String> = current[2].split(' ').map(String::from).collect();
        let right = carla[4].clone();
        carla[4] = if right == "academic" {
            "acid"
        } else {
            "academic"
        }
        .into();
        lines.push(carla.join(" "));
        lines.push(right);
        let mut kb = script(lines);
        let mut c = Collector::new(&h.vault_id, &h.share_set, &h.recipients.emergency);
        type_shares(&mut kb, &h, &mut c).unwrap();
        let said = kb.said.join("\n");
        assert!(said.contains("begin a share of set"), "{said}");
        assert!(said.contains("which was replaced on 2026-01-01"), "{said}");
        assert!(said.contains("word 2 is not a SLIP-39 word"), "{said}");
        assert!(
            said.contains("not taken: this share was already entered"),
            "{said}"
        );
        assert!(said.contains("the checksum points to word 5"), "{said}");
        assert!(kb.prompts.last().unwrap().contains("word 5/33"));
        assert_eq!(said.matches("accepted:").count(), 2, "{said}");
        assert!(kb.lines.is_empty());
        let e = c.combine().unwrap();
        assert!(e.matches(&h.recipients.emergency));
        // Nothing secret was said: no two neighbouring words of any share appear in
        // baton's output (single list words such as "already" occur in messages).
        for share in current.iter().chain(&retired) {
            let w: Vec<&str> = share.split(' ').collect();
            for pair in w.windows(2) {
                assert!(!said.contains(&pair.join(" ")), "share words were shown");
            }
        }
    }

    #[test]
    fn a_short_prefix_is_asked_again() {
        let (h, current, _) = fixture();
        let mut lines = vec!["ac".to_string()];
        lines.extend(by_prefix(&current[1]));
        lines.extend(by_prefix(&current[2]));
        let mut kb = script(lines);
        let mut c = Collector::new(&h.vault_id, &h.share_set, &h.recipients.emergency);
        type_shares(&mut kb, &h, &mut c).unwrap();
        assert!(kb.said.iter().any(|l| l.contains("first 4 letters")));
        assert_eq!(c.taken(), vec![(0, 1), (0, 2)]);
    }
}
