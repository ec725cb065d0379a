//! Algorithm parameters: typed definitions with ranges and defaults, and validated values.
//!
//! Every algorithm declares its parameters as [`ParamDef`]s in its catalogue entry. The
//! scenario reader checks scenario values against them generically (type, range, unknown
//! keys), `lblab list algorithms` prints them, and the builder reads the validated
//! [`Params`] with typed getters.

use std::fmt;

use crate::engine::SimTime;

/// The type and range of a parameter.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum ParamKind {
    /// An integer in `[min, max]`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A finite float in `[min, max]`.
    Float {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A duration (written like `"10s"`) in `[min, max]`.
    Duration {
        /// Shortest allowed value.
        min: SimTime,
        /// Longest allowed value.
        max: SimTime,
    },
    /// `true` or `false`.
    Bool,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// The name of another (non-wrapping) algorithm in the catalogue.
    Algorithm,
}

/// A parameter value.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A duration.
    Duration(SimTime),
    /// A boolean.
    Bool(bool),
    /// A word from a [`ParamKind::Choice`] or an algorithm name.
    Word(&'static str),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(x) => write!(f, "{x}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Duration(t) => write!(f, "{t}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Word(w) => write!(f, "{w}"),
        }
    }
}

/// The definition of one parameter.
#[derive(Copy, Clone, Debug)]
pub struct ParamDef {
    /// Key as written in `[balancer]`.
    pub key: &'static str,
    /// Type and range.
    pub kind: ParamKind,
    /// Value when the scenario does not give one.
    pub default: ParamValue,
    /// One line: what it does (and the real system's name for it).
    pub doc: &'static str,
}

impl ParamDef {
    /// Checks `v` against the kind and range; returns what was expected on failure.
    pub fn check(&self, v: ParamValue) -> Result<ParamValue, String> {
        match (self.kind, v) {
            (ParamKind::Int { min, max }, ParamValue::Int(x)) if (min..=max).contains(&x) => Ok(v),
            (ParamKind::Int { min, max }, _) => Err(format!("an integer from {min} to {max}")),
            (ParamKind::Float { min, max }, ParamValue::Float(x))
                if x.is_finite() && (min..=max).contains(&x) =>
            {
                Ok(v)
            }
            (ParamKind::Float { min, max }, ParamValue::Int(x))
                if (min..=max).contains(&(x as f64)) =>
            {
                Ok(ParamValue::Float(x as f64))
            }
            (ParamKind::Float { min, max }, _) => Err(format!("a number from {min} to {max}")),
            (ParamKind::Duration { min, max }, ParamValue::Duration(t))
                if (min..=max).contains(&t) =>
            {
                Ok(v)
            }
            (ParamKind::Duration { min, max }, _) => Err(format!("a duration from {min} to {max}")),
            (ParamKind::Bool, ParamValue::Bool(_)) => Ok(v),
            (ParamKind::Bool, _) => Err("true or false".into()),
            (ParamKind::Choice(words), ParamValue::Word(w)) if words.contains(&w) => Ok(v),
            (ParamKind::Choice(words), _) => Err(format!("one of: {}", words.join(", "))),
            (ParamKind::Algorithm, ParamValue::Word(_)) => Ok(v),
            (ParamKind::Algorithm, _) => Err("an algorithm name".into()),
        }
    }

    /// A short description of the kind and range, for listings.
    pub fn describe_kind(&self) -> String {
        match self.kind {
            ParamKind::Int { min, max } => format!("integer {min}..={max}"),
            ParamKind::Float { min, max } => format!("number {min}..={max}"),
            ParamKind::Duration { min, max } => format!("duration {min}..={max}"),
            ParamKind::Bool => "true/false".into(),
            ParamKind::Choice(words) => words.join("|"),
            ParamKind::Algorithm => "algorithm name".into(),
        }
    }
}

/// Validated values for every parameter of one algorithm, in definition order.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    values: Vec<(&'static str, ParamValue)>,
}

impl Params {
    /// Every parameter at its default.
    pub fn defaults(defs: &'static [ParamDef]) -> Params {
        Params {
            values: defs.iter().map(|d| (d.key, d.default)).collect(),
        }
    }

    /// Sets `key` (which must be defined) to an already checked value.
    pub fn set(&mut self, key: &str, v: ParamValue) {
        let slot = self
            .values
            .iter_mut()
            .find(|(k, _)| *k == key)
            .expect("parameter is defined");
        slot.1 = v;
    }

    fn get(&self, key: &str) -> ParamValue {
        match self.values.iter().find(|(k, _)| *k == key) {
            Some((_, v)) => *v,
            None => panic!("parameter `{key}` is not defined for this algorithm"),
        }
    }

    /// Whether the algorithm has parameter `key`.
    pub fn has(&self, key: &str) -> bool {
        self.values.iter().any(|(k, _)| *k == key)
    }

    /// An integer parameter.
    pub fn int(&self, key: &str) -> i64 {
        match self.get(key) {
            ParamValue::Int(x) => x,
            v => panic!("parameter `{key}` is {v:?}, not an integer"),
        }
    }

    /// A float parameter.
    pub fn float(&self, key: &str) -> f64 {
        match self.get(key) {
            ParamValue::Float(x) => x,
            ParamValue::Int(x) => x as f64,
            v => panic!("parameter `{key}` is {v:?}, not a number"),
        }
    }

    /// A duration parameter.
    pub fn duration(&self, key: &str) -> SimTime {
        match self.get(key) {
            ParamValue::Duration(t) => t,
            v => panic!("parameter `{key}` is {v:?}, not a duration"),
        }
    }

    /// A boolean parameter.
    pub fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            ParamValue::Bool(b) => b,
            v => panic!("parameter `{key}` is {v:?}, not a boolean"),
        }
    }

    /// A word (choice or algorithm name) parameter.
    pub fn word(&self, key: &str) -> &'static str {
        match self.get(key) {
            ParamValue::Word(w) => w,
            v => panic!("parameter `{key}` is {v:?}, not a word"),
        }
    }

    /// `(key, value)` of every parameter that differs from its default, in definition order.
    pub fn non_default(&self, defs: &[ParamDef]) -> Vec<(&'static str, ParamValue)> {
        self.values
            .iter()
            .zip(defs)
            .filter(|((_, v), d)| *v != d.default)
            .map(|(kv, _)| *kv)
            .collect()
    }

    /// Every `(key, value)`, in definition order.
    pub fn iter(&self) -> impl Iterator<Item = &(&'static str, ParamValue)> {
        self.values.iter()
    }
}
