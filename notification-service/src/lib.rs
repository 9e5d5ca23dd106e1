//! The notification service: an email to the customer for every order change, over SMTP or as .eml files.
