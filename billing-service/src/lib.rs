//! The billing service: an invoice per order: opened on create, amended on update, voided on delete or cancel.
