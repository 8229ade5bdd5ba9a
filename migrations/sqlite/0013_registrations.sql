-- Residents' registrations waiting for their one-time code (issue 8: registering must not
-- reveal whether a number is known). A registration is answered alike for every number;
-- the code sent by SMS proves the phone, and only then is a token issued. The code is kept
-- as a salted SHA-256 digest; a registration takes a few attempts and expires in minutes.
create table registrations (
    id            text primary key,
    phone         text not null,
    name          text,
    code_sha256   text not null,
    created_at    text not null,
    expires_at    text not null,
    attempts      integer not null default 0,
    confirmed_at  text
);
create index registrations_phone_idx on registrations (phone, created_at);
