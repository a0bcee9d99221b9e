//! A serde `Deserializer` over toml's spanned tree (`DeValue`), whose errors
//! carry the span and dotted key path of the node at fault and are worded
//! for people: `expected X, found Y` with Y as the file writes it.
//!
//! Owns the wording of every refusal that comes through serde's error
//! constructors (wrong type, unknown key, missing key, unknown value) and of
//! "found" (a value as written: `0x10`, `nan`, `the date-time 1979-05-27`).
//! Knows no key: what a key takes comes from the derived config types and
//! `simnet_sim::units`, through those constructors.
//!
//! How an error finds its place: a refusal is created without one; the
//! first node it passes on the way out (the map key, map value or array item
//! being read, or the root) claims it, filling in its span and path and
//! rendering "found" from its own value. A missing key is claimed by the
//! table that lacks it.

use serde::de::value::StrDeserializer;
use serde::de::{
    self, DeserializeSeed, EnumAccess, Error as _, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use simnet_sim::units::truncate;
use std::fmt;
use std::ops::Range;
use toml::de::{DeString, DeTable, DeValue};
use toml::Spanned;

/// An error with its place in the document, once a node has claimed it.
#[derive(Debug)]
pub(super) struct Problem {
    pub span: Option<Range<usize>>,
    pub key: Option<String>,
    what: What,
}

/// What is wrong; all but `Text` are worded once the place is known.
#[derive(Debug, Clone)]
enum What {
    Text(String),
    /// `expected {0}, found <the value>{1}`.
    Expected(String, String),
    MissingKey(&'static str),
    UnknownKey(String, &'static [&'static str]),
}

impl What {
    /// The message, given the value at the place as written (`found`) and
    /// the title of the table the place is in, or is.
    fn finish(self, found: &str, table: &str) -> String {
        match self {
            What::Text(m) => m,
            What::Expected(what, hint) => format!("expected {what}, found {found}{hint}"),
            What::MissingKey(k) => format!("missing required key `{k}` in {table}"),
            What::UnknownKey(k, known) => unknown_key_message(&k, table, known),
        }
    }
}

impl Problem {
    /// A located error with a finished message.
    pub fn at(span: Option<Range<usize>>, key: Option<String>, message: String) -> Problem {
        Problem {
            span,
            key,
            what: What::Text(message),
        }
    }

    fn new(what: What) -> Problem {
        Problem {
            span: None,
            key: None,
            what,
        }
    }

    fn expected(what: impl fmt::Display) -> Problem {
        Problem::new(What::Expected(what.to_string(), String::new()))
    }

    /// The message (worded generically if no node has claimed it yet).
    pub fn message(&self) -> String {
        self.what.clone().finish("the value", "its table")
    }

    /// Gives an unclaimed error the place and value of `node`; a missing
    /// key is one of the table at `node`.
    fn claim(self, node: &Node<'_, '_>) -> Problem {
        if self.span.is_some() {
            return self;
        }
        let (key, what) = match self.what {
            What::MissingKey(k) if node.path.is_empty() => (
                k.to_string(),
                What::Text(format!("missing required table [{k}]")),
            ),
            What::MissingKey(k) => (join(&node.path, k), What::MissingKey(k)),
            what => (node.path.clone(), what),
        };
        let message = what.finish(&describe(node.value.get_ref()), &title(&node.path));
        Problem::at(Some(node.value.span()), Some(key), message)
    }

    /// Gives an unclaimed error the place of `key` in the table at `table`.
    fn claim_key(self, key: &Spanned<DeString<'_>>, table: &str) -> Problem {
        if self.span.is_some() {
            return self;
        }
        let name: &str = key.get_ref();
        let message = self
            .what
            .finish(&format!("{:?}", truncate(name)), &title(table));
        Problem::at(Some(key.span()), Some(join(table, name)), message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Problem {}

impl de::Error for Problem {
    fn custom<T: fmt::Display>(msg: T) -> Problem {
        Problem::new(What::Text(msg.to_string()))
    }

    fn invalid_type(_: Unexpected<'_>, exp: &dyn de::Expected) -> Problem {
        Problem::expected(exp)
    }

    /// `simnet_sim::units` passes a hint about the value as
    /// `Unexpected::Other("(hint)")`.
    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Problem {
        let hint = match unexp {
            Unexpected::Other(h) if h.starts_with('(') => format!(" {h}"),
            _ => String::new(),
        };
        Problem::new(What::Expected(exp.to_string(), hint))
    }

    fn invalid_length(_: usize, exp: &dyn de::Expected) -> Problem {
        Problem::expected(exp)
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Problem {
        let message = format!(
            "unknown value {:?}; expected one of {}",
            truncate(variant),
            quoted_list(expected)
        );
        Problem::new(What::Text(message))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Problem {
        Problem::new(What::UnknownKey(field.to_string(), expected))
    }

    fn missing_field(field: &'static str) -> Problem {
        Problem::new(What::MissingKey(field))
    }
}

// ---------------------------------------------------------------------------
// Wording.

/// The most characters of one key an error shows: every key the format
/// has, and every valid host name (64), whole.
const KEY_SHOWN: usize = 64;

/// `parent.key`, quoting `key` when it is not a bare TOML key, and cutting
/// a key longer than [`KEY_SHOWN`] characters short with `…`.
pub(super) fn join(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if key.chars().count() > KEY_SHOWN {
        let mut short: String = key.chars().take(KEY_SHOWN).collect();
        short.push('…');
        short
    } else {
        key.to_string()
    };
    let key = if bare { key } else { format!("{key:?}") };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// How the user wrote the header of the table at `path`: `[link]`,
/// `[[flow]]`, `[flow.buffer]`.
fn title(path: &str) -> String {
    let mut bare = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if !in_index => bare.push(c),
            _ => {}
        }
    }
    if path.is_empty() {
        "the top-level table".into()
    } else if path.ends_with(']') {
        format!("[[{bare}]]")
    } else {
        format!("[{bare}]")
    }
}

fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|v| format!("{v:?}")).collect();
    quoted.join(", ")
}

fn unknown_key_message(name: &str, title: &str, known: &[&str]) -> String {
    let mut message = format!("unknown key {:?} in {title}", truncate(name));
    if let Some(close) = known.iter().find(|k| edit_distance(name, k) <= 2) {
        message.push_str(&format!(" (did you mean `{close}`?)"));
    }
    message.push_str("; expected one of: ");
    message.push_str(&known.join(", "));
    message
}

/// Levenshtein distance, for "did you mean"; long inputs are never close.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 2 || a.len() > 64 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A value as the user wrote it, for "found ..." in messages.
fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("{:?}", truncate(s)),
        DeValue::Integer(i) => truncate(&i.to_string()),
        DeValue::Float(f) => truncate(f.as_str()),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => format!("the date-time {}", truncate(&d.to_string())),
        DeValue::Array(_) => "an array".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

// ---------------------------------------------------------------------------
// The deserializer.

/// One value of the document and its dotted key path (empty at the root).
pub(super) struct Node<'a, 'i> {
    pub value: &'a Spanned<DeValue<'i>>,
    pub path: String,
}

impl Node<'_, '_> {
    /// Deserializes `T` from this node, every error located.
    pub fn read<T: de::DeserializeOwned>(self) -> Result<T, Problem> {
        let node = Node {
            value: self.value,
            path: self.path.clone(),
        };
        T::deserialize(self).map_err(|e| e.claim(&node))
    }
}

impl<'de> de::Deserializer<'de> for Node<'_, '_> {
    type Error = Problem;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        match self.value.get_ref() {
            DeValue::String(s) => visitor.visit_str(s),
            DeValue::Integer(i) => {
                // Integers beyond i128 saturate: "found" shows them as
                // written, and every bound refuses them.
                let n = i128::from_str_radix(i.as_str(), i.radix()).unwrap_or(
                    if i.as_str().starts_with('-') {
                        i128::MIN
                    } else {
                        i128::MAX
                    },
                );
                match (i64::try_from(n), u64::try_from(n)) {
                    (Ok(n), _) => visitor.visit_i64(n),
                    (_, Ok(n)) => visitor.visit_u64(n),
                    _ => visitor.visit_i128(n),
                }
            }
            DeValue::Float(f) => match f.as_str().parse::<f64>() {
                Ok(f) => visitor.visit_f64(f),
                Err(_) => Err(Problem::invalid_type(Unexpected::Other("float"), &visitor)),
            },
            DeValue::Boolean(b) => visitor.visit_bool(*b),
            DeValue::Datetime(_) => Err(Problem::invalid_type(
                Unexpected::Other("date-time"),
                &visitor,
            )),
            DeValue::Array(items) => visitor.visit_seq(Items {
                items: items.iter(),
                path: self.path,
                next: 0,
            }),
            DeValue::Table(t) => visitor.visit_map(Table::new(t, self.path)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        match self.value.get_ref() {
            DeValue::Boolean(b) => visitor.visit_bool(*b),
            _ => Err(Problem::expected("true or false")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        visitor.visit_some(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Problem> {
        match self.value.get_ref() {
            DeValue::Table(t) => visitor.visit_map(Table::new(t, self.path)),
            _ => Err(Problem::expected("a table")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        match self.value.get_ref() {
            DeValue::Table(t) => visitor.visit_map(Table::new(t, self.path)),
            _ => Err(Problem::expected(&visitor as &dyn de::Expected)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        match self.value.get_ref() {
            DeValue::Array(_) => self.deserialize_any(visitor),
            _ => Err(Problem::expected(&visitor as &dyn de::Expected)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Problem> {
        match self.value.get_ref() {
            DeValue::String(s) => visitor.visit_enum(Variant(s)),
            _ => Err(Problem::expected(format_args!(
                "one of {}",
                quoted_list(variants)
            ))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Problem> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct identifier
    }
}

/// A table's entries, in file order.
struct Table<'a, 'i> {
    entries: Vec<(&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>)>,
    path: String,
    next: usize,
}

impl<'a, 'i> Table<'a, 'i> {
    fn new(t: &'a DeTable<'i>, path: String) -> Self {
        Table {
            entries: t.iter().collect(),
            path,
            next: 0,
        }
    }
}

impl<'de> MapAccess<'de> for Table<'_, '_> {
    type Error = Problem;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Problem> {
        let Some((key, _)) = self.entries.get(self.next) else {
            return Ok(None);
        };
        let name: StrDeserializer<'_, Problem> = key.get_ref().as_ref().into_deserializer();
        seed.deserialize(name)
            .map(Some)
            .map_err(|e| e.claim_key(key, &self.path))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Problem> {
        let Some((key, value)) = self.entries.get(self.next) else {
            return Err(Problem::custom("a value without a key"));
        };
        self.next += 1;
        let node = Node {
            value,
            path: join(&self.path, key.get_ref()),
        };
        let place = Node {
            value,
            path: node.path.clone(),
        };
        seed.deserialize(node).map_err(|e| e.claim(&place))
    }
}

/// An array's items.
struct Items<'a, 'i> {
    items: std::slice::Iter<'a, Spanned<DeValue<'i>>>,
    path: String,
    next: usize,
}

impl<'de> SeqAccess<'de> for Items<'_, '_> {
    type Error = Problem;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Problem> {
        let Some(value) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{}]", self.path, self.next);
        self.next += 1;
        let place = Node {
            value,
            path: path.clone(),
        };
        seed.deserialize(Node { value, path })
            .map(Some)
            .map_err(|e| e.claim(&place))
    }
}

/// A string naming an enum's unit variant.
struct Variant<'a>(&'a str);

impl<'de> EnumAccess<'de> for Variant<'_> {
    type Error = Problem;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Problem> {
        let name: StrDeserializer<'_, Problem> = self.0.into_deserializer();
        let v = seed.deserialize(name)?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_> {
    type Error = Problem;

    fn unit_variant(self) -> Result<(), Problem> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, _: S) -> Result<S::Value, Problem> {
        Err(Problem::expected("a table"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Problem> {
        Err(Problem::expected("an array"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Problem> {
        Err(Problem::expected("a table"))
    }
}
