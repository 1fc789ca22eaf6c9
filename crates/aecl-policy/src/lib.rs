//! aecl's policy files: agent manifests, the action catalog, Cedar rules and the trace format.
