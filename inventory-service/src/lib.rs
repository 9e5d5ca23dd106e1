//! The inventory service: a stock ledger: reserves on create, adjusts on update, releases on delete or cancel.
