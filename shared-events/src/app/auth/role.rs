//! The roles a caller can hold, and what each one may do.

use serde::{Deserialize, Serialize};

/// What a token (or a signed-in person) is allowed to do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything: orders, stock, invoices, emails, deliveries.
    Viewer,
    /// Reads everything; creates, changes and deletes orders.
    Clerk,
    /// Reads everything; sets stock levels.
    Stock,
    /// Everything, including replaying failures and managing tokens.
    Admin,
}

/// One kind of thing a route does, which a role may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read orders, stock, invoices, emails and deliveries.
    Read,
    /// Create, change and delete orders.
    ChangeOrders,
    /// Set a product's stock level.
    SetStock,
    /// Replay failures, manage tokens: whatever only an administrator does.
    Administer,
}

impl Role {
    /// Every role, from the least to the most allowed.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Clerk, Role::Stock, Role::Admin];

    /// Whether this role may do what `permission` stands for.
    pub fn may(self, permission: Permission) -> bool {
        matches!(
            (self, permission),
            (Role::Admin, _)
                | (_, Permission::Read)
                | (Role::Clerk, Permission::ChangeOrders)
                | (Role::Stock, Permission::SetStock)
        )
    }

    /// The role's name, as tokens files and the command line spell it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Clerk => "clerk",
            Role::Stock => "stock",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_do_exactly_what_the_table_says() {
        use Permission::*;
        let table = [
            (Role::Viewer, [true, false, false, false]),
            (Role::Clerk, [true, true, false, false]),
            (Role::Stock, [true, false, true, false]),
            (Role::Admin, [true, true, true, true]),
        ];
        for (role, allowed) in table {
            for (permission, expected) in [Read, ChangeOrders, SetStock, Administer]
                .into_iter()
                .zip(allowed)
            {
                assert_eq!(role.may(permission), expected, "{role} {permission:?}");
            }
        }
    }

    #[test]
    fn names_round_trip_through_json() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).expect("serialize");
            assert_eq!(json, format!("\"{}\"", role.name()));
            assert_eq!(serde_json::from_str::<Role>(&json).expect("parse"), role);
        }
    }
}
