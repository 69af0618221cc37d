//! Secrets: argon2 password hashes, and random session and API-token secrets stored only as their
//! SHA-256 digests.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// API tokens start with this, so a leaked one is recognisable in logs and secret scanners.
pub(super) const TOKEN_PREFIX: &str = "bsk_";

pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| {
            tracing::error!("password hashing failed: {error}");
            AppError::Internal
        })
}

pub(super) fn verify_password(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// The hex SHA-256 a session or API token is stored and looked up as.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random secret (256 bits, hex) and its digest.
pub(super) fn new_secret(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret = format!("{prefix}{}", hex::encode(bytes));
    let digest = digest(&secret);
    (secret, digest)
}

/// A valid argon2 hash of a random password, verified against when a user name is unknown.
pub(super) const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$7nWqmkJ0kH1p3Rr0i9cJb8oU4q3m1m9l2i2o8b6Y0cA";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse battery "));
        assert!(!verify_password("not a hash", "correct horse battery"));
    }

    #[test]
    fn the_dummy_hash_parses_so_unknown_users_cost_a_full_verification() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password(DUMMY_HASH, "anything"));
    }

    #[test]
    fn secrets_are_random_and_stored_only_as_their_digest() {
        let (first, first_digest) = new_secret(TOKEN_PREFIX);
        let (second, _) = new_secret(TOKEN_PREFIX);
        assert_ne!(first, second);
        assert!(first.starts_with(TOKEN_PREFIX) && first.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(first_digest, digest(&first));
        assert!(!first_digest.contains(&first[TOKEN_PREFIX.len()..]));
    }
}
