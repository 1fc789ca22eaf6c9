-- The engine's signature over a single-use grant's terms: a grant written by hand (no
-- signature, or one that does not verify) permits nothing. Grants made before this
-- migration have none; an engine with a grant key ignores them, and the call's retry asks
-- for an approval again.
ALTER TABLE grants ADD COLUMN signature TEXT;
