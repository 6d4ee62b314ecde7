//! `baton entry`: add, edit, attach, detach and remove entries.

use std::path::Path;

use baton::vault::Access;
use baton::vault::changes::EntryFields;

use crate::cli::{EntryCmd, EntryFieldArgs};
use crate::context::Ctx;
use crate::input;
use crate::msg::{self, Result, esc};

pub(crate) fn entry_fields(
    a: EntryFieldArgs,
    clear_password: bool,
    clear_totp: bool,
) -> Result<EntryFields> {
    let password = if a.generate {
        let (p, bits) = baton::generate::password(a.length, true);
        eprintln!(
            "generated a {}-character password ({bits:.0} bits)",
            p.expose().len()
        );
        Some(p)
    } else if let Some(f) = &a.password_file {
        Some(input::secret_text(f, "--password-file")?)
    } else if a.password_prompt {
        Some(input::prompt_secret("password")?)
    } else {
        None
    };
    let totp = match &a.totp_file {
        Some(t)
            if t.get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("otpauth:")) =>
        {
            return Err(msg::totp_uri_inline());
        }
        Some(t) => Some(input::secret_text(Path::new(t), "--totp")?),
        None => None,
    };
    Ok(EntryFields {
        kind: a.kind,
        url: a.url,
        user: a.user,
        password,
        clear_password,
        totp,
        clear_totp,
        note: a.note,
        tags: a.tags,
    })
}

pub(crate) fn cmd_entry(ctx: &Ctx, c: EntryCmd) -> Result<()> {
    match c {
        EntryCmd::Add {
            client,
            name,
            fields,
        } => {
            let f = entry_fields(fields, false, false)?;
            let mut v = ctx.open(Access::Write)?;
            v.add_entry(&client, &name, f)?;
            eprintln!("added {}/{}", esc(&client), esc(&name));
        }
        EntryCmd::Edit {
            client,
            name,
            fields,
            rename,
            clear_password,
            clear_totp,
        } => {
            let f = entry_fields(fields, clear_password, clear_totp)?;
            let mut v = ctx.open(Access::Write)?;
            // One change: the fields and the new name are checked together and
            // committed once, so a refused rename stores nothing.
            v.edit_entry(&client, &name, f, rename.as_deref())?;
            let shown = rename.as_deref().unwrap_or(&name);
            eprintln!("updated {}/{}", esc(&client), esc(shown));
        }
        EntryCmd::Rm { client, name } => {
            let mut v = ctx.open(Access::Write)?;
            v.remove_entry(&client, &name)?;
            eprintln!("removed {}/{}", esc(&client), esc(&name));
        }
        EntryCmd::Attach {
            client,
            entry,
            file,
            name,
            force,
        } => {
            let name = match name {
                Some(n) => n,
                None => file
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .ok_or_else(msg::attachment_without_name)?,
            };
            let data = input::attachment(&file)?;
            let mut v = ctx.open(Access::Write)?;
            v.attach(&client, &entry, &name, data, force)?;
            eprintln!(
                "attached {} to {}/{}",
                esc(&name),
                esc(&client),
                esc(&entry)
            );
        }
        EntryCmd::Detach {
            client,
            entry,
            name,
        } => {
            let mut v = ctx.open(Access::Write)?;
            v.detach(&client, &entry, &name)?;
            eprintln!(
                "removed attachment {} from {}/{}",
                esc(&name),
                esc(&client),
                esc(&entry)
            );
        }
    }
    Ok(())
}
