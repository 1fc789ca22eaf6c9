//! The store contract on the in-memory store, the port's reference implementation.

/// A fresh in-memory store; it needs nothing kept alive beside it.
async fn memory() -> (aecl_engine::store::MemoryStore, ()) {
    (aecl_testkit::memory_store(), ())
}

mod memory {
    use aecl_testkit::store_contract;

    store_contract!(super::memory());
}
