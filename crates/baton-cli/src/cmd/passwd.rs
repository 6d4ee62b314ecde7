//! `baton passwd`: a new owner passphrase, optionally new Argon2id costs.

use baton::vault::Access;

use crate::cli;
use crate::context::Ctx;
use crate::input;
use crate::msg::{self, Result};

pub(crate) fn cmd_passwd(ctx: &Ctx, a: cli::PasswdArgs) -> Result<()> {
    let mut v = ctx.open(Access::Write)?;
    let new = input::new_passphrase(a.new_passphrase_file.as_deref(), "--new-passphrase-file")?;
    let kdf = a
        .kdf_request()
        .changed(&v.header().kdf)
        .map_err(|e| msg::kdf_refused(&e, false))?;
    v.change_passphrase(&new, kdf)?;
    let k = &v.header().kdf;
    eprintln!(
        "passphrase changed (argon2id m={} MiB t={} p={})",
        k.m_cost_kib / 1024,
        k.t_cost,
        k.p_cost
    );
    Ok(())
}
