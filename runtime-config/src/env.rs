//! Reading the environment through a trait, so tests never touch the real one.

use std::collections::BTreeMap;

/// A source of environment variables.
pub trait Env {
    /// The value of `key`, if set (and valid UTF-8).
    fn get(&self, key: &str) -> Option<String>;
    /// Every key that is set, for the unknown-key check.
    fn keys(&self) -> Vec<String>;
}

/// The real process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }

    fn keys(&self) -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .collect()
    }
}

/// An environment held in a map, for tests and for building a child's environment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MapEnv(pub BTreeMap<String, String>);

impl MapEnv {
    /// Builds a map environment from pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        MapEnv(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }
}

impl Env for MapEnv {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    fn keys(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}
