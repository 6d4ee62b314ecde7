//! Keys and the primitives around them: the Argon2id passphrase KDF
//! (docs/format.md#kdf), the owner and emergency keys (#keys), age encryption of whole
//! files (#files), and the zeroizing secret types every secret lives in.

pub mod kdf;
pub mod keys;
pub mod seal;
pub mod secret;
