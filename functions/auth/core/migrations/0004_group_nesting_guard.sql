-- Nested groups, enforced by the database itself, whoever writes:
-- * a nesting edge (parent contains child) that would close a cycle, a group containing itself
--   included, is refused with SQLSTATE ZG001 and the cycle's group ids in DETAIL;
-- * both ends of an edge, and a group and its user member, belong to one tenant (ZG002);
-- * every change to one tenant's nesting takes a transaction-scoped advisory lock of that tenant
--   before it looks for a cycle, so two transactions adding A->B and B->A serialise: the second
--   sees the first's committed edge (READ COMMITTED takes a fresh snapshot per statement) and is
--   refused. REPEATABLE READ would look with a snapshot older than the lock, so it is refused
--   (ZG003); SERIALIZABLE is safe by itself.
-- * users.version and groups.version (SCIM meta.version) grow by one on every update.
CREATE FUNCTION "auth"."group_nesting_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  parent_tenant uuid;
  child_tenant uuid;
  cycle uuid[];
BEGIN
  SELECT tenant_id INTO parent_tenant FROM auth.groups WHERE id = NEW.parent_id;
  SELECT tenant_id INTO child_tenant FROM auth.groups WHERE id = NEW.child_id;
  IF parent_tenant IS NULL OR child_tenant IS NULL THEN
    RETURN NEW; -- the foreign keys refuse the row
  END IF;
  IF parent_tenant <> child_tenant THEN
    RAISE EXCEPTION 'groups of different tenants cannot be nested' USING ERRCODE = 'ZG002';
  END IF;
  IF current_setting('transaction_isolation') = 'repeatable read' THEN
    RAISE EXCEPTION 'group nesting cannot be changed at REPEATABLE READ' USING ERRCODE = 'ZG003';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('auth.group_nesting:' || parent_tenant::text, 0));
  IF NEW.parent_id = NEW.child_id THEN
    RAISE EXCEPTION 'a group cannot contain itself' USING ERRCODE = 'ZG001', DETAIL = NEW.parent_id::text;
  END IF;
  -- Is the parent already below the child? Reachability first (set semantics: linear).
  PERFORM 1 FROM (
    WITH RECURSIVE below(id) AS (
      SELECT n.child_id FROM auth.group_nesting n WHERE n.parent_id = NEW.child_id
      UNION
      SELECT n.child_id FROM auth.group_nesting n JOIN below b ON n.parent_id = b.id
    ) SELECT id FROM below WHERE id = NEW.parent_id LIMIT 1
  ) hit;
  IF FOUND THEN
    -- Name one path child -> ... -> parent, which the new edge would close.
    WITH RECURSIVE walk(id, path) AS (
      SELECT NEW.child_id, ARRAY[NEW.parent_id, NEW.child_id]
      UNION ALL
      SELECT n.child_id, w.path || n.child_id FROM auth.group_nesting n JOIN walk w ON n.parent_id = w.id
      WHERE w.id <> NEW.parent_id AND cardinality(w.path) < 256
    ) SELECT path INTO cycle FROM walk WHERE id = NEW.parent_id LIMIT 1;
    RAISE EXCEPTION 'group nesting would create a cycle' USING ERRCODE = 'ZG001', DETAIL = array_to_string(cycle, ' ');
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "group_nesting_guard" BEFORE INSERT OR UPDATE ON "auth"."group_nesting"
  FOR EACH ROW EXECUTE FUNCTION "auth"."group_nesting_guard"();
--> statement-breakpoint
CREATE FUNCTION "auth"."group_member_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT tenant_id FROM auth.groups WHERE id = NEW.group_id) IS DISTINCT FROM (SELECT tenant_id FROM auth.users WHERE id = NEW.user_id)
     AND EXISTS (SELECT 1 FROM auth.groups WHERE id = NEW.group_id) AND EXISTS (SELECT 1 FROM auth.users WHERE id = NEW.user_id) THEN
    RAISE EXCEPTION 'a user can only be a member of a group of its tenant' USING ERRCODE = 'ZG002';
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "group_member_guard" BEFORE INSERT OR UPDATE ON "auth"."group_members"
  FOR EACH ROW EXECUTE FUNCTION "auth"."group_member_guard"();
--> statement-breakpoint
CREATE FUNCTION "auth"."bump_version"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "users_bump_version" BEFORE UPDATE ON "auth"."users"
  FOR EACH ROW EXECUTE FUNCTION "auth"."bump_version"();
--> statement-breakpoint
CREATE TRIGGER "groups_bump_version" BEFORE UPDATE ON "auth"."groups"
  FOR EACH ROW EXECUTE FUNCTION "auth"."bump_version"();
