//! `baton get CLIENT/ENTRY`: one secret, to stdout, a file, or the terminal with `--show`.

use std::io::IsTerminal;

use baton::SecretText;
use baton::vault::Access;

use crate::cli::{self, Field};
use crate::context::Ctx;
use crate::msg::{self, Result};
use crate::output::emit_secret;

pub(crate) fn split_target(t: &str) -> Result<(&str, &str)> {
    t.split_once('/')
        .filter(|(c, e)| !c.is_empty() && !e.is_empty())
        .ok_or_else(|| msg::not_a_target(t))
}

pub(crate) fn cmd_get(ctx: &Ctx, a: cli::GetArgs) -> Result<()> {
    let (client, entry) = split_target(&a.target)?;
    let v = ctx.open(Access::Read)?;
    let file = v.client(client)?;
    let e = file.require_entry(entry)?;
    if a.json.json {
        /// The `credentials.json` entry shape plus the client; borrows from the decrypted
        /// entry, so the only copy made is the wiped buffer.
        #[derive(serde::Serialize)]
        struct Out<'a> {
            client: &'a str,
            #[serde(flatten)]
            entry: baton::export::EntryView<'a>,
        }
        let text = baton::crypto::secret::json_bytes(&Out {
            client,
            entry: baton::export::EntryView::new(e),
        });
        let mut line = zeroize::Zeroizing::new(Vec::with_capacity(text.len() + 1));
        line.extend_from_slice(&text);
        line.push(b'\n');
        return emit_secret(&line, None, a.show, false);
    }
    if let Some(name) = &a.attachment {
        let att = e
            .attachments
            .iter()
            .find(|x| &x.name == name)
            .ok_or_else(|| msg::no_attachment(client, entry, name))?;
        let binary = std::str::from_utf8(att.data.expose()).is_err();
        return emit_secret(att.data.expose(), a.output.as_deref(), a.show, binary);
    }
    let (value, secret): (Option<&str>, bool) = match a.field {
        Field::Password => (e.password.as_ref().map(SecretText::expose), true),
        Field::Totp => (e.totp.as_ref().map(SecretText::expose), true),
        Field::User => (Some(e.user.as_str()), false),
        Field::Url => (Some(e.url.as_str()), false),
        Field::Note => (Some(e.note.as_str()), false),
    };
    let value = value
        .ok_or_else(|| msg::no_field(client, entry, &format!("{:?}", a.field).to_lowercase()))?;
    let mut bytes = zeroize::Zeroizing::new(value.as_bytes().to_vec());
    if !std::io::stdout().is_terminal() || a.output.is_some() {
        bytes.push(b'\n');
    }
    emit_secret(&bytes, a.output.as_deref(), a.show || !secret, false)
}
