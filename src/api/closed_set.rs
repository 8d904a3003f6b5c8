//! Names users read (phases, condition types and reasons, Event reasons), each declared once
//! with its meaning.
//!
//! [`closed_set!`] declares the enum and derives from that one declaration the variant's name
//! ([`as_str`](#method.as_str)), its meaning (the variant's doc comment, and
//! [`meaning`](#method.meaning)) and `ALL`, every variant in order. Metrics iterate `ALL` for a
//! bounded label set, the CRD lists the phases with their meanings, and a test requires every
//! name of every set in docs/rollout.md with the same meaning: a variant added here without
//! its documentation fails that test, and no list is kept by hand.

/// Declares a closed set of names: `enum Name { Variant => "meaning", ... }` (a variant may
/// carry attributes, e.g. `#[default]`).
///
/// Generates the enum (each meaning becomes the variant's doc comment) and, on it, `ALL`,
/// `as_str` (the variant's identifier) and `meaning`.
macro_rules! closed_set {
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_attr:meta])* $variant:ident => $meaning:literal, )+
        }
    ) => {
        $(#[$attr])*
        $vis enum $name {
            $( #[doc = $meaning] $(#[$variant_attr])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$($name::$variant),+];

            /// The name as status, Events, metrics and the docs spell it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => stringify!($variant), )+
                }
            }

            /// What it means, in the words of the docs (docs/rollout.md).
            pub const fn meaning(self) -> &'static str {
                match self {
                    $( $name::$variant => $meaning, )+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use closed_set;

#[cfg(test)]
mod tests {
    closed_set! {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Colour {
            Red => "The colour of stop signs.",
            Green => "The colour of go signs.",
        }
    }

    #[test]
    fn every_variant_is_listed_with_its_name_and_meaning() {
        assert_eq!(Colour::ALL, [Colour::Red, Colour::Green]);
        assert_eq!(Colour::Green.as_str(), "Green");
        assert_eq!(Colour::Red.to_string(), "Red");
        assert_eq!(Colour::Red.meaning(), "The colour of stop signs.");
    }
}
