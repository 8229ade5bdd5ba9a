-- API keys of Open311 GeoReport v2 clients (issue 12): issued by admins like tokens, kept
-- only as SHA-256 digests, revocable. A key lets an integration post service requests; it
-- is not a principal and sees reports as the public does.
create table api_keys (
    id          text primary key,
    name        text not null,
    key_sha256  text not null unique,
    created_at  text not null,
    revoked_at  text
);
