//! `baton client`: add, edit, end, reopen, set, remove clients and their package keys.

use baton::vault::Access;
use baton::vault::changes::{ClientEdit, NewClient};

use crate::cli::ClientCmd;
use crate::cmd::{export, gdpr};
use crate::context::Ctx;
use crate::input;
use crate::msg::{self, Result, esc};

pub(crate) fn cmd_client(ctx: &Ctx, c: ClientCmd) -> Result<()> {
    match c {
        ClientCmd::Add {
            id,
            name,
            contact,
            notes,
            tags,
        } => {
            let mut v = ctx.open(Access::Write)?;
            v.add_client(NewClient {
                name: name.unwrap_or_default(),
                id: id.clone(),
                contact,
                notes,
                tags,
            })?;
            eprintln!("added client {}", esc(&id));
        }
        ClientCmd::Edit {
            id,
            name,
            contact,
            notes,
            tags,
        } => {
            let mut v = ctx.open(Access::Write)?;
            v.edit_client(
                &id,
                ClientEdit {
                    name,
                    contact,
                    notes,
                    tags,
                },
            )?;
            eprintln!("updated client {}", esc(&id));
        }
        ClientCmd::SetRecipient {
            id,
            recipients,
            clear,
        } => {
            let parsed = if clear {
                vec![]
            } else {
                export::parse_recipients(&recipients, &[])?
            };
            let mut v = ctx.open(Access::Write)?;
            let before = v.client(&id)?.recipients;
            v.set_recipients(&id, &parsed)?;
            if parsed.is_empty() {
                eprintln!("removed the package recipients of {}", esc(&id));
            }
            let kept: Vec<&str> = parsed.iter().map(|r| r.as_str()).collect();
            if before.iter().any(|r| !kept.contains(&r.as_str())) {
                // Honest about revocation (docs/threat-model.md#rotation).
                eprintln!(
                    "note: a removed key still opens every package already exported to it; only new exports leave it out"
                );
            }
            for r in &parsed {
                eprintln!(
                    "{}: packages go to {} ({})",
                    esc(&id),
                    esc(r.as_str()),
                    r.fingerprint()
                );
            }
        }
        ClientCmd::End { id, date, reason } => gdpr::end(ctx, &id, date, &reason)?,
        ClientCmd::Reopen { id } => gdpr::reopen(ctx, &id)?,
        ClientCmd::Set {
            id,
            dpa,
            dpa_ref,
            hold,
            no_hold,
            retain_until,
            no_retain_until,
        } => {
            let edit = baton::vault::changes::GdprEdit {
                dpa: dpa.map(|d| gdpr::parse_dpa(&d, dpa_ref)).transpose()?,
                hold: match (hold, no_hold) {
                    (Some(r), _) => Some(Some(r)),
                    (None, true) => Some(None),
                    (None, false) => None,
                },
                retain_until: match (retain_until, no_retain_until) {
                    (Some(d), _) => Some(d),
                    (None, true) => Some(String::new()),
                    (None, false) => None,
                },
            };
            gdpr::set(ctx, &id, edit)?
        }
        ClientCmd::Rm { id, yes } => {
            let yes = yes.yes;
            let mut v = ctx.open(Access::Write)?;
            let n = v.client(&id)?.entries.len();
            if !yes
                && !input::confirm(&format!(
                    "remove client '{}' and its {n} entries?",
                    esc(&id)
                ))
            {
                return Err(msg::not_confirmed_remove());
            }
            v.remove_client(&id)?;
            eprintln!("removed client {} ({n} entries)", esc(&id));
        }
    }
    Ok(())
}
