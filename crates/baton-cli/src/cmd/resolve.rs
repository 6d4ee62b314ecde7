//! `baton resolve CLIENT[/ENTRY] --keep N | --remove`: settles one conflict between
//! devices' versions (docs/format.md#merge); the library checks and commits it.

use baton::sync::{Resolution, conflicts_in};
use baton::vault::{Access, VaultError};

use crate::cli::ResolveArgs;
use crate::context::Ctx;
use crate::msg::{self, Result};

pub(crate) fn cmd_resolve(ctx: &Ctx, a: ResolveArgs) -> Result<()> {
    let (client, entry) = match a.target.split_once('/') {
        None if !a.target.is_empty() => (a.target.as_str(), None),
        Some((c, e)) if !c.is_empty() && !e.is_empty() => (c, Some(e)),
        _ => return Err(msg::not_a_resolve_target(&a.target)),
    };
    let choice = match a.keep {
        Some(n) => Resolution::Keep(n),
        None => Resolution::Remove,
    };
    let mut v = ctx.open(Access::Write)?;
    let target = v.resolve(client, entry, choice)?;
    eprintln!("{}", msg::resolved(&a.target, &target, choice));
    // What is left to settle for this client, if it is still there.
    match v.client(client) {
        Ok(f) => {
            let left = conflicts_in(&f).len();
            if left > 0 {
                eprintln!("{}", msg::conflicts_left(client, left));
            }
            Ok(())
        }
        Err(VaultError::UnknownClient(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
