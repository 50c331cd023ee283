//! A request's arguments: typed reads that name the field at fault, and a check that nothing
//! unknown was sent.

use serde_json::{Map, Value};

/// Why a request could not be carried out, before it reached the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The error kind (docs/protocol.md).
    pub(crate) kind: &'static str,
    /// What was wrong and how to put it right.
    pub(crate) message: String,
    /// The argument at fault, if one.
    pub(crate) field: Option<String>,
    /// The service's failure, for kind `hresult`.
    pub(crate) hresult: Option<model::vss::Hresult>,
}

impl Refusal {
    pub(crate) fn new(kind: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            message: message.into(),
            field: None,
            hresult: None,
        }
    }

    /// The service answered `h`, a failure, to `call`.
    pub(crate) fn hresult(call: &str, h: model::vss::Hresult) -> Refusal {
        Refusal {
            kind: "hresult",
            message: format!("{call} failed: {} (0x{:08X})", h.name(), h.code()),
            field: None,
            hresult: Some(h),
        }
    }

    pub(crate) fn field(field: &str, message: impl Into<String>) -> Refusal {
        Refusal {
            kind: "bad_request",
            message: message.into(),
            field: Some(field.to_string()),
            hresult: None,
        }
    }
}

/// The arguments of one request (every key but `v`, `id` and `op`).
pub(crate) struct Args<'a> {
    op: &'a str,
    map: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Args<'a> {
    pub(crate) fn new(op: &'a str, map: &'a Map<String, Value>) -> Args<'a> {
        Args {
            op,
            map,
            used: vec!["v", "id", "op"],
        }
    }

    fn get(&mut self, field: &'static str) -> Option<&'a Value> {
        self.used.push(field);
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn missing(&self, field: &str, what: &str) -> Refusal {
        Refusal::field(
            field,
            format!("{}: argument {field:?} ({what}) is missing", self.op),
        )
    }

    fn wrong(&self, field: &str, what: &str) -> Refusal {
        Refusal::field(
            field,
            format!("{}: argument {field:?} must be {what}", self.op),
        )
    }

    /// A required string.
    pub(crate) fn str(&mut self, field: &'static str) -> Result<&'a str, Refusal> {
        match self.get(field) {
            None => Err(self.missing(field, "a string")),
            Some(v) => v.as_str().ok_or_else(|| self.wrong(field, "a string")),
        }
    }

    /// An optional string.
    pub(crate) fn opt_str(&mut self, field: &'static str) -> Result<Option<&'a str>, Refusal> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| self.wrong(field, "a string")),
        }
    }

    /// A required non-negative integer.
    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, Refusal> {
        match self.get(field) {
            None => Err(self.missing(field, "an integer")),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| self.wrong(field, "a non-negative integer")),
        }
    }

    /// An optional non-negative integer.
    pub(crate) fn opt_u64(&mut self, field: &'static str) -> Result<Option<u64>, Refusal> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.wrong(field, "a non-negative integer")),
        }
    }

    /// A boolean, `default` when absent.
    pub(crate) fn bool_or(&mut self, field: &'static str, default: bool) -> Result<bool, Refusal> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.wrong(field, "true or false")),
        }
    }

    /// A required boolean.
    pub(crate) fn bool(&mut self, field: &'static str) -> Result<bool, Refusal> {
        match self.get(field) {
            None => Err(self.missing(field, "true or false")),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.wrong(field, "true or false")),
        }
    }

    /// A required array.
    pub(crate) fn array(&mut self, field: &'static str) -> Result<&'a Vec<Value>, Refusal> {
        match self.get(field) {
            None => Err(self.missing(field, "an array")),
            Some(v) => v.as_array().ok_or_else(|| self.wrong(field, "an array")),
        }
    }

    /// An optional array.
    pub(crate) fn opt_array(
        &mut self,
        field: &'static str,
    ) -> Result<Option<&'a Vec<Value>>, Refusal> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_array()
                .map(Some)
                .ok_or_else(|| self.wrong(field, "an array")),
        }
    }

    /// A required value of any type.
    pub(crate) fn value(&mut self, field: &'static str) -> Result<&'a Value, Refusal> {
        self.get(field)
            .ok_or_else(|| self.missing(field, "a value"))
    }

    /// Refuses an argument this request does not take.
    pub(crate) fn finish(&self) -> Result<(), Refusal> {
        match self.map.keys().find(|k| !self.used.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(Refusal::field(
                k,
                format!(
                    "{}: no argument {k:?}; it takes {}",
                    self.op,
                    if self.used.len() > 3 {
                        self.used[3..].join(", ")
                    } else {
                        "none".to_string()
                    }
                ),
            )),
        }
    }
}
