//! Which hooks and overrides a handler class defines, computed once when it is loaded.
//!
//! The reference looks attributes up with `hasattr` on every call; a handler's class does not
//! change after import, so one look-up at load time lets the worker skip Python for everything the
//! handler leaves at the default — for the default handler, that is every call.

/// The six events that have `on_*`, `pre_*` and `post_*` hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    DataObjCreate,
    DataObjModify,
    DataObjDelete,
    CollCreate,
    CollModify,
    CollDelete,
}

impl Event {
    pub const ALL: [Event; 6] = [
        Event::DataObjCreate,
        Event::DataObjModify,
        Event::DataObjDelete,
        Event::CollCreate,
        Event::CollModify,
        Event::CollDelete,
    ];

    /// `data_obj_create`, ...: the suffix of the hook names.
    pub fn name(self) -> &'static str {
        match self {
            Event::DataObjCreate => "data_obj_create",
            Event::DataObjModify => "data_obj_modify",
            Event::DataObjDelete => "data_obj_delete",
            Event::CollCreate => "coll_create",
            Event::CollModify => "coll_modify",
            Event::CollDelete => "coll_delete",
        }
    }

    /// Delete hooks get `(module, session, meta)`: no logger (reference §6.3).
    pub fn passes_logger(self) -> bool {
        !matches!(self, Event::DataObjDelete | Event::CollDelete)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The overrides (static methods of `event_handler`) the reference looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Override {
    Operation,
    DeleteMode,
    ToResource,
    TargetPath,
    AsUser,
    MaxRetries,
    Timeout,
    Delay,
    CharacterMap,
    PreJob,
    PostJob,
}

impl Override {
    pub const ALL: [Override; 11] = [
        Override::Operation,
        Override::DeleteMode,
        Override::ToResource,
        Override::TargetPath,
        Override::AsUser,
        Override::MaxRetries,
        Override::Timeout,
        Override::Delay,
        Override::CharacterMap,
        Override::PreJob,
        Override::PostJob,
    ];

    /// The attribute name on the class.
    pub fn name(self) -> &'static str {
        match self {
            Override::Operation => "operation",
            Override::DeleteMode => "delete_mode",
            Override::ToResource => "to_resource",
            Override::TargetPath => "target_path",
            Override::AsUser => "as_user",
            Override::MaxRetries => "max_retries",
            Override::Timeout => "timeout",
            Override::Delay => "delay",
            Override::CharacterMap => "character_map",
            Override::PreJob => "pre_job",
            Override::PostJob => "post_job",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// What the class has under `on_<event>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnHook {
    /// No such attribute (a class not derived from `Core`): the operation runs without hooks.
    #[default]
    Absent,
    /// `Core`'s own wrapper: `pre_*`, operation, `post_*`.
    Default,
    /// The handler's own `on_<event>`.
    Custom,
}

/// The summary: cheap to copy, consulted before every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    on: [OnHook; 6],
    pre: [bool; 6],
    post: [bool; 6],
    overrides: u16,
    has_class: bool,
}

impl Capabilities {
    /// Builds the summary from `(attribute name, kind)` pairs as the Python side reports them
    /// (`kind` is `default`/`custom` for `on_*`, `present` otherwise).
    pub(crate) fn from_attributes<'a>(
        has_class: bool,
        attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut caps = Capabilities { has_class, ..Capabilities::default() };
        for (name, kind) in attributes {
            for event in Event::ALL {
                let i = event.index();
                if name.strip_prefix("on_") == Some(event.name()) {
                    caps.on[i] = if kind == "custom" { OnHook::Custom } else { OnHook::Default };
                } else if name.strip_prefix("pre_") == Some(event.name()) {
                    caps.pre[i] = true;
                } else if name.strip_prefix("post_") == Some(event.name()) {
                    caps.post[i] = true;
                }
            }
            if let Some(o) = Override::ALL.into_iter().find(|o| o.name() == name) {
                caps.overrides |= o.bit();
            }
        }
        caps
    }

    /// False when the module has no `event_handler` class (it then behaves like the default).
    pub fn has_class(&self) -> bool {
        self.has_class
    }

    pub fn on_hook(&self, event: Event) -> OnHook {
        self.on[event.index()]
    }

    pub fn has_pre(&self, event: Event) -> bool {
        self.pre[event.index()]
    }

    pub fn has_post(&self, event: Event) -> bool {
        self.post[event.index()]
    }

    pub fn has_override(&self, which: Override) -> bool {
        self.overrides & which.bit() != 0
    }

    /// Whether an event needs Python: a custom `on_<event>`, or `Core`'s with a `pre_`/`post_`
    /// hook to call. Otherwise the operation alone is what the reference would run.
    pub fn runs_python(&self, event: Event) -> bool {
        match self.on_hook(event) {
            OnHook::Absent => false,
            OnHook::Custom => true,
            OnHook::Default => self.has_pre(event) || self.has_post(event),
        }
    }

    /// True when no event runs Python and no override is defined: the handler is the default one.
    pub fn is_default(&self) -> bool {
        self.overrides == 0 && Event::ALL.into_iter().all(|e| !self.runs_python(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_core_subclass_runs_no_python() {
        let attrs = Event::ALL.map(|e| (format!("on_{}", e.name()), "default"));
        let caps = Capabilities::from_attributes(
            true,
            attrs.iter().map(|(n, k)| (n.as_str(), *k)).chain([("operation", "present")]),
        );
        assert!(Event::ALL.into_iter().all(|e| !caps.runs_python(e)));
        assert!(caps.has_override(Override::Operation));
        assert!(!caps.has_override(Override::Timeout));
        assert!(!caps.is_default());
    }

    #[test]
    fn pre_hook_or_custom_on_needs_python() {
        let caps = Capabilities::from_attributes(
            true,
            [
                ("on_data_obj_create", "default"),
                ("pre_data_obj_create", "present"),
                ("on_coll_create", "custom"),
                ("on_coll_modify", "default"),
                ("post_data_obj_delete", "present"),
            ],
        );
        assert!(caps.runs_python(Event::DataObjCreate));
        assert!(caps.runs_python(Event::CollCreate));
        assert!(!caps.runs_python(Event::CollModify));
        // No on_data_obj_delete: the reference calls the operation directly, hooks never fire.
        assert!(!caps.runs_python(Event::DataObjDelete));
    }
}
