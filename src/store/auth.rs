//! Principals and bearer tokens (issue 3, "Roles and access"). Tokens are stored as their
//! SHA-256 digest only; the token itself is shown once, when it is issued.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PgStore, SqliteStore, StoreError, StoreResult};
use crate::domain::spatial::units::UnitLevel;
use crate::domain::workflow::case::Role;

/// Someone the service knows: a resident, a member of staff, or an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The id recorded as the actor of their events (`u-…`).
    pub id: String,
    pub role: Role,
    /// The unit or department whose cases a handler or grid worker works on.
    pub unit: Option<String>,
    pub name: Option<String>,
}

/// A principal to create, with the digest of their first token.
#[derive(Debug, Clone)]
pub struct NewPrincipal {
    pub principal: Principal,
    /// Residents: their normalised mobile number (unique).
    pub phone: Option<String>,
    pub token_sha256: String,
    pub created_at: DateTime<Utc>,
}

/// What [`AuthStore::create_principal`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Created,
    /// A principal with this phone number exists already.
    PhoneTaken,
}

#[async_trait]
pub trait AuthStore: Send + Sync {
    /// Stores a new principal and its first token, atomically.
    async fn create_principal(&self, new: &NewPrincipal) -> StoreResult<Created>;

    /// The principal holding the token with this digest, unless it was revoked.
    async fn principal_by_token(&self, token_sha256: &str) -> StoreResult<Option<Principal>>;

    /// A resident's registered phone number, for the unit handling their case.
    async fn principal_phone(&self, id: &str) -> StoreResult<Option<String>>;

    /// The people a case dispatched to `target` can be assigned to, each with the number of
    /// open cases assigned to them now: the target's handlers, and (for a unit target) the
    /// grid workers inside it whose grids hold `grid`.
    async fn assignable_staff(
        &self,
        target: &str,
        grid: Option<&str>,
    ) -> StoreResult<Vec<(Principal, i64)>>;

    /// Revokes every token of the principal; how many were live.
    async fn revoke_tokens(&self, principal: &str, at: DateTime<Utc>) -> StoreResult<u64>;

    /// The departments at least one handler works for: the ones a case can be sent to.
    async fn staffed_departments(&self) -> StoreResult<Vec<String>>;

    /// The level of the unit with this code, if the deployment has it.
    async fn unit_level(&self, code: &str) -> StoreResult<Option<UnitLevel>>;
}

const INSERT_PRINCIPAL: &str = "insert into principals (id, role, unit, name, phone, created_at)
     values ($1, $2, $3, $4, $5, $6)";
const INSERT_TOKEN: &str =
    "insert into tokens (token_sha256, principal, created_at) values ($1, $2, $3)";
const SELECT_BY_TOKEN: &str = "select p.id, p.role, p.unit, p.name
     from tokens t join principals p on p.id = t.principal
     where t.token_sha256 = $1 and t.revoked_at is null";
const SELECT_PHONE: &str = "select phone from principals where id = $1";
const SELECT_ASSIGNABLE: &str = "select p.id, p.role, p.unit, p.name,
        (select count(*) from case_index c
          where c.assignee = p.id and c.clock_stopped_at is null) as load
     from principals p
     where (p.role = 'handler' and p.unit = $1)
        or (p.role = 'grid_worker' and $2 is not null and p.unit like $1 || '%'
            and $2 like p.unit || '%')
     order by p.id";
const REVOKE_TOKENS: &str =
    "update tokens set revoked_at = $2 where principal = $1 and revoked_at is null";
const SELECT_STAFFED: &str = "select distinct unit from principals
     where role = 'handler' and unit is not null order by unit";
const SELECT_UNIT_LEVEL: &str = "select level from units where code = $1";

#[derive(sqlx::FromRow)]
pub(super) struct PrincipalRow {
    id: String,
    role: String,
    unit: Option<String>,
    name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AssignableRow {
    #[sqlx(flatten)]
    principal: PrincipalRow,
    load: i64,
}

impl PrincipalRow {
    pub(super) fn decode(self) -> StoreResult<Principal> {
        let role = self
            .role
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("principal {}: {e}", self.id)))?;
        Ok(Principal {
            id: self.id,
            role,
            unit: self.unit,
            name: self.name,
        })
    }
}

macro_rules! impl_auth_store {
    ($store:ty) => {
        #[async_trait]
        impl AuthStore for $store {
            async fn create_principal(&self, new: &NewPrincipal) -> StoreResult<Created> {
                let p = &new.principal;
                let mut tx = self.pool().begin().await?;
                let inserted = sqlx::query(INSERT_PRINCIPAL)
                    .bind(&p.id)
                    .bind(p.role.as_str())
                    .bind(&p.unit)
                    .bind(&p.name)
                    .bind(&new.phone)
                    .bind(new.created_at)
                    .execute(&mut *tx)
                    .await;
                match inserted {
                    Ok(_) => {}
                    Err(sqlx::Error::Database(e))
                        if e.is_unique_violation() && new.phone.is_some() =>
                    {
                        tx.rollback().await?;
                        return Ok(Created::PhoneTaken);
                    }
                    Err(e) => return Err(e.into()),
                }
                sqlx::query(INSERT_TOKEN)
                    .bind(&new.token_sha256)
                    .bind(&p.id)
                    .bind(new.created_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Created::Created)
            }

            async fn principal_by_token(
                &self,
                token_sha256: &str,
            ) -> StoreResult<Option<Principal>> {
                let row: Option<PrincipalRow> = sqlx::query_as(SELECT_BY_TOKEN)
                    .bind(token_sha256)
                    .fetch_optional(self.pool())
                    .await?;
                row.map(PrincipalRow::decode).transpose()
            }

            async fn principal_phone(&self, id: &str) -> StoreResult<Option<String>> {
                let phone: Option<Option<String>> = sqlx::query_scalar(SELECT_PHONE)
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?;
                Ok(phone.flatten())
            }

            async fn assignable_staff(
                &self,
                target: &str,
                grid: Option<&str>,
            ) -> StoreResult<Vec<(Principal, i64)>> {
                let rows: Vec<AssignableRow> = sqlx::query_as(SELECT_ASSIGNABLE)
                    .bind(target)
                    .bind(grid)
                    .fetch_all(self.pool())
                    .await?;
                rows.into_iter()
                    .map(|r| Ok((r.principal.decode()?, r.load)))
                    .collect()
            }

            async fn revoke_tokens(&self, principal: &str, at: DateTime<Utc>) -> StoreResult<u64> {
                Ok(sqlx::query(REVOKE_TOKENS)
                    .bind(principal)
                    .bind(at)
                    .execute(self.pool())
                    .await?
                    .rows_affected())
            }

            async fn staffed_departments(&self) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar(SELECT_STAFFED)
                    .fetch_all(self.pool())
                    .await?)
            }

            async fn unit_level(&self, code: &str) -> StoreResult<Option<UnitLevel>> {
                let level: Option<String> = sqlx::query_scalar(SELECT_UNIT_LEVEL)
                    .bind(code)
                    .fetch_optional(self.pool())
                    .await?;
                level
                    .map(|l| {
                        l.parse()
                            .map_err(|e| StoreError::Corrupt(format!("unit {code}: {e}")))
                    })
                    .transpose()
            }
        }
    };
}

impl_auth_store!(PgStore);
impl_auth_store!(SqliteStore);
