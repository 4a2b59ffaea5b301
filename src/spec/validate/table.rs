//! The machinery of the key tables (`keys!`): one row per key of a spec map declares
//!
//! ```text
//! name: Type, Where, merge, read [, into apply] [, need "message"];
//! ```
//!
//! - `Where`: `App`, `Stage` or `Both` (a nested block's keys are all `Both`); a key written
//!   where it may not be is an unknown key there;
//! - `merge`: how a stage's value goes over the app's (`replace`, `entries` for maps merged key
//!   by key, or a block's own rule through `blocks`);
//! - `read`: `fn(&mut Check, &Node, &KeyPath) -> Option<Type>`, which checks the value where it
//!   is written and reports what is wrong with it;
//! - `into`: how a value that is set goes into the model (in row order, so a row may use what
//!   an earlier one set); `need`: the message when no layer sets it.
//!
//! From the rows the macro makes the layer struct (each key a `Val<At<Type>>`), the list of
//! known keys, reading, merging and applying: nothing else lists the keys.

use indexmap::IndexMap;

use crate::spec::path::KeyPath;

/// A setting in one layer: not written, written but wrong (already reported, so nothing
/// that depends on it is reported again), or written and right.
#[derive(Debug, Clone, Default)]
pub(super) enum Val<T> {
    #[default]
    Absent,
    Bad,
    Set(T),
}

impl<T> Val<T> {
    /// This layer's value over `base`'s.
    pub fn or(self, base: Val<T>) -> Val<T> {
        match self {
            Val::Absent => base,
            written => written,
        }
    }

    pub fn set(&self) -> Option<&T> {
        match self {
            Val::Set(value) => Some(value),
            _ => None,
        }
    }
}

impl<T> Val<At<T>> {
    /// A checked value with the path it was written at; `None` (already reported) is `Bad`.
    pub fn located(checked: Option<T>, at: &KeyPath) -> Self {
        checked.map_or(Val::Bad, |value| {
            Val::Set(At {
                value,
                at: at.clone(),
            })
        })
    }

    pub fn value(&self) -> Option<&T> {
        self.set().map(|v| &v.value)
    }
}

/// A value with the path it was written at, for problems found after merging.
#[derive(Debug, Clone)]
pub(super) struct At<T> {
    pub value: T,
    pub at: KeyPath,
}

/// Where a key may be written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Level {
    App,
    Stage,
    Both,
}

impl Level {
    /// Whether a key of level `self` may be written in a map of level `map`.
    pub fn allowed_in(self, map: Level) -> bool {
        self == Level::Both || map == Level::Both || self == map
    }
}

/// Merge rule: the stage's value when it writes one, else the app's.
pub(super) fn replace<T>(app: Val<At<T>>, stage: Val<At<T>>) -> Val<At<T>> {
    stage.or(app)
}

/// Merge rule for maps such as `env` and `labels`: key by key, the stage's winning.
pub(super) fn entries<V>(
    app: Val<At<IndexMap<String, V>>>,
    stage: Val<At<IndexMap<String, V>>>,
) -> Val<At<IndexMap<String, V>>> {
    match (app, stage) {
        (Val::Set(mut app), Val::Set(stage)) => {
            app.value.extend(stage.value);
            Val::Set(At {
                value: app.value,
                at: stage.at,
            })
        }
        (app, stage) => stage.or(app),
    }
}

/// Merge rule for blocks (`health`, `proxy`, ...): `merge` when both write one. A block that
/// was not a map stays bad: what it was meant to hold is unknown, so nothing is inferred.
pub(super) fn blocks<T>(app: Val<At<T>>, stage: Val<At<T>>, merge: fn(T, T) -> T) -> Val<At<T>> {
    match (app, stage) {
        (Val::Set(app), Val::Set(stage)) => Val::Set(At {
            value: merge(app.value, stage.value),
            at: stage.at,
        }),
        (Val::Bad, _) | (_, Val::Bad) => Val::Bad,
        (app, stage) => stage.or(app),
    }
}

/// Declares a key table; see the module comment. `=> Target` names what `into` writes to
/// (`()` for a block that its parent's row applies as a whole).
macro_rules! keys {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident => $target:ty {
            $( $key:ident : $ty:ty, $level:ident, $merge:expr, $read:expr
               $(, into $into:expr)? $(, need $need:expr)? ; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default)]
        $vis struct $name {
            /// Where this map is written.
            pub at: $crate::spec::path::KeyPath,
            $(pub $key: $crate::spec::validate::table::Val<$crate::spec::validate::table::At<$ty>>,)*
        }

        // Not every table uses every helper (a block has no `into` or `need` rows, say).
        #[allow(dead_code, unused_mut, unused_variables)]
        impl $name {
            /// Every key, in the order messages list them, with where it may be written.
            pub const KEYS: &[(&str, $crate::spec::validate::table::Level)] =
                &[$((stringify!($key), $crate::spec::validate::table::Level::$level)),*];

            /// Reads a map of level `level`: unknown keys are reported (`wrong_place` gives
            /// tailored messages), every known key is read and checked.
            pub fn read(
                check: &mut $crate::spec::validate::check::Check,
                entries: &[(String, $crate::spec::raw::Node)],
                at: &$crate::spec::path::KeyPath,
                level: $crate::spec::validate::table::Level,
                wrong_place: &[(&str, &str)],
            ) -> Self {
                let allowed: Vec<&str> = Self::KEYS
                    .iter()
                    .filter(|(_, l)| l.allowed_in(level))
                    .map(|(k, _)| *k)
                    .collect();
                check.unknown_keys(entries, at, &allowed, wrong_place);
                let mut out = Self { at: at.clone(), ..Self::default() };
                for (key, node) in entries {
                    if !allowed.contains(&key.as_str()) {
                        continue;
                    }
                    let at = at.key(key);
                    match key.as_str() {
                        $(stringify!($key) => {
                            let read: fn(
                                &mut $crate::spec::validate::check::Check,
                                &$crate::spec::raw::Node,
                                &$crate::spec::path::KeyPath,
                            ) -> Option<$ty> = $read;
                            out.$key = $crate::spec::validate::table::Val::located(
                                read(check, node, &at),
                                &at,
                            );
                        })*
                        _ => {}
                    }
                }
                out
            }

            /// `stage`'s values over `app`'s, key by key.
            pub fn merged(app: Self, stage: Self) -> Self {
                Self {
                    at: stage.at,
                    $($key: {
                        type V = $crate::spec::validate::table::Val<
                            $crate::spec::validate::table::At<$ty>,
                        >;
                        let merge: fn(V, V) -> V = $merge;
                        merge(app.$key, stage.$key)
                    },)*
                }
            }

            /// The keys that are set, with where.
            pub fn written(&self) -> Vec<(&'static str, &$crate::spec::path::KeyPath)> {
                let mut out = Vec::new();
                $(if let Some(v) = self.$key.set() {
                    out.push((stringify!($key), &v.at));
                })*
                out
            }

            /// Drops the keys `keep` refuses.
            pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
                $(if !keep(stringify!($key)) {
                    self.$key = $crate::spec::validate::table::Val::Absent;
                })*
            }

            /// The `need` message of every required key that no layer set.
            pub fn missing(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $($(if let $crate::spec::validate::table::Val::Absent = self.$key {
                    out.push($need);
                })?)*
                out
            }

            /// Every set value into `target`, in row order.
            pub fn apply(&self, target: &mut $target) {
                $($(if let Some(value) = self.$key.set() {
                    let into: fn(&mut $target, &$crate::spec::validate::table::At<$ty>) = $into;
                    into(target, value);
                })?)*
            }
        }
    };
}
pub(super) use keys;
