//! Checked settings, in the manner of linfa's `ParamGuard`: a settings type says how it is checked ([`Check`]),
//! checking it yields a [`Checked`] value, and a plug-in's constructor takes only that. No plug-in is then built from
//! settings nobody checked, and none checks them twice.
//!
//! ```
//! use genius_core::checked::{Check, Checked};
//!
//! #[derive(Debug, Default)]
//! struct Width(usize);
//!
//! impl Check for Width {
//!     type Error = String;
//!     fn check_ref(&self) -> Result<(), String> {
//!         if self.0 == 0 { Err("`width` must be at least 1 (got 0)".into()) } else { Ok(()) }
//!     }
//! }
//!
//! fn build(width: Checked<Width>) -> usize {
//!     width.0 * 2 // no check needed here: the type says it was done
//! }
//!
//! assert_eq!(build(Width(3).check().unwrap()), 6);
//! assert_eq!(Width(0).check().unwrap_err(), "`width` must be at least 1 (got 0)");
//! ```

use std::ops::Deref;

use serde::Serialize;

/// Settings that can be checked.
pub trait Check: Sized {
    /// Why settings are invalid (naming the field).
    type Error;

    /// Checks every field, leaving the settings as they are.
    fn check_ref(&self) -> Result<(), Self::Error>;

    /// The checked settings, or why they are invalid.
    fn check(self) -> Result<Checked<Self>, Self::Error> {
        self.check_ref()?;
        Ok(Checked(self))
    }
}

/// Settings that passed their [`Check`]. Read through `Deref`; serialized as the settings themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked<S>(S);

impl<S> Checked<S> {
    /// The settings.
    pub fn into_inner(self) -> S {
        self.0
    }
}

impl<S> Deref for Checked<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.0
    }
}

impl<S: Check + Default> Default for Checked<S>
where
    S::Error: std::fmt::Debug,
{
    /// The default settings, checked.
    ///
    /// # Panics
    /// If the defaults fail their own check: a bug of the settings type, which its tests show.
    fn default() -> Self {
        S::default().check().expect("the default settings pass their check")
    }
}

impl<S: Serialize> Serialize for Checked<S> {
    fn serialize<Z: serde::Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        self.0.serialize(serializer)
    }
}
