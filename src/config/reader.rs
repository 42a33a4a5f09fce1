//! The state shared by the section builders while one config file (plus includes) is read:
//! the merged ini, the expansion dicts, and the parse messages, with Python's `saneget`.

use std::cell::{RefCell, RefMut};
use std::path::PathBuf;

use super::error::{ConfigError, ErrorKind};
use super::expand::{expand, Expansions, Value};
use super::ini::{Ini, Opt};
use super::types;

/// A value read from a section: the (possibly expanded) text and the option it came from.
#[derive(Debug, Clone)]
pub(crate) struct Got {
    pub value: String,
    /// `None` when the default was used.
    pub opt: Option<Opt>,
}

pub(crate) struct Reader {
    pub ini: Ini,
    /// The main config file, as given (Python names it so in messages).
    pub configfile: PathBuf,
    /// Absolute directory of the main config file.
    pub here: String,
    /// `ENV_*` names: supervisord's environment, later plus `[supervisord] environment`.
    pub env: Expansions,
    /// `platform.node()`.
    pub host_node_name: String,
    pub warnings: RefCell<Vec<String>>,
    pub infos: Vec<String>,
}

impl Reader {
    /// Where parse warnings go (builders hold `&Reader`).
    pub fn warnings_sink(&self) -> RefMut<'_, Vec<String>> {
        self.warnings.borrow_mut()
    }

    /// The file a section came from, as Python's `section_to_file.get(section, configfile)`.
    pub fn section_file(&self, section: &str) -> PathBuf {
        self.ini
            .section(section)
            .map(|s| s.file.clone())
            .unwrap_or_else(|| self.configfile.clone())
    }

    /// An error located at `section`/`option` (the option's own file and line when known).
    pub fn error(
        &self,
        kind: ErrorKind,
        message: impl Into<String>,
        section: &str,
        opt: Option<&Opt>,
        option: Option<&str>,
    ) -> ConfigError {
        let mut e = ConfigError::new(kind, message);
        e.section = Some(section.to_string());
        e.option = option.map(str::to_string);
        match opt {
            Some(o) => {
                e.file = Some(o.file.clone());
                e.line = Some(o.line);
            }
            None => {
                e.file = Some(self.section_file(section));
                e.line = self.ini.section(section).map(|s| s.line);
            }
        }
        e
    }

    /// `saneget(section, option, default, do_expand, expansions)`: the value (section, then
    /// `[DEFAULT]`), expanded against `ENV_*` + `extra` unless `do_expand` is false.
    pub fn get(
        &self,
        section: &str,
        option: &str,
        default: Option<&str>,
        extra: &Expansions,
        do_expand: bool,
    ) -> Result<Option<Got>, ConfigError> {
        let opt = self.ini.get(section, option).cloned();
        let raw = match (&opt, default) {
            (Some(o), _) => o.value.clone(),
            (None, Some(d)) => d.to_string(),
            (None, None) => return Ok(None),
        };
        let value = if do_expand {
            let mut combined = self.env.clone();
            combined.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            expand(&raw, &combined, &format!("{section}.{option}")).map_err(|e| {
                self.error(
                    ErrorKind::Expansion,
                    e.to_string(),
                    section,
                    opt.as_ref(),
                    Some(option),
                )
            })?
        } else {
            raw
        };
        Ok(Some(Got { value, opt }))
    }

    /// `get` with a default, then a datatype conversion; failures located at the option.
    pub fn convert<T>(
        &self,
        section: &str,
        option: &str,
        default: &str,
        extra: &Expansions,
        f: impl FnOnce(&str) -> types::Result<T>,
    ) -> Result<T, ConfigError> {
        let got = self
            .get(section, option, Some(default), extra, true)?
            .unwrap_or(Got {
                value: default.to_string(),
                opt: None,
            });
        self.check(section, option, &got, f)
    }

    /// Applies a conversion to a value already read, locating a failure at its option.
    pub fn check<T>(
        &self,
        section: &str,
        option: &str,
        got: &Got,
        f: impl FnOnce(&str) -> types::Result<T>,
    ) -> Result<T, ConfigError> {
        f(&got.value).map_err(|e| {
            self.error(
                ErrorKind::Value,
                e.0,
                section,
                got.opt.as_ref(),
                Some(option),
            )
        })
    }
}

/// `{'here': here}` plus extra string pairs.
pub(crate) fn strs(pairs: &[(&str, &str)]) -> Expansions {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::Str(v.to_string())))
        .collect()
}
