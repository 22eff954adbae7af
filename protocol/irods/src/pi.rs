//! The [`PackStruct`] trait: one Rust type per iRODS packing instruction (`*_PI`), converted to and
//! from the XML element tree of [`crate::xml`].
//!
//! Encoding emits every non-pointer item of the server's 4.3 definition, in definition order, so a
//! real server unpacks it exactly. Decoding looks items up by name and defaults missing ones
//! (python-irodsclient omits whatever it did not set), ignores unknown items, and reports bad numbers
//! or base64 as [`DecodeError`]s.

use crate::error::DecodeError;
use crate::xml::{self, Element};

/// A message body described by an iRODS packing instruction.
pub trait PackStruct: Sized {
    /// The packing-instruction name, which is also the XML root tag (e.g. `DataObjInp_PI`).
    const PI_NAME: &'static str;

    /// Builds the element tree.
    fn to_element(&self) -> Element;

    /// Reads the fields from an element whose tag is already known to be `PI_NAME`.
    fn from_element(el: &Element) -> Result<Self, DecodeError>;

    /// Packs as XML text.
    fn encode(&self) -> Vec<u8> {
        self.to_element().to_xml()
    }

    /// Unpacks XML text; the root tag must be `PI_NAME`.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let el = xml::parse(bytes)?;
        Self::from_root(&el)
    }

    /// Checks the tag and reads the fields.
    fn from_root(el: &Element) -> Result<Self, DecodeError> {
        if el.name != Self::PI_NAME {
            return Err(DecodeError::UnexpectedRoot { expected: Self::PI_NAME, found: el.name.clone() });
        }
        Self::from_element(el)
    }
}

/// Reads a nested struct by its PI name; a missing struct decodes as its default.
pub(crate) fn nested<T: PackStruct + Default>(parent: &Element) -> Result<T, DecodeError> {
    match parent.child(T::PI_NAME) {
        Some(el) => T::from_element(el),
        None => Ok(T::default()),
    }
}
