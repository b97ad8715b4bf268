-- Every change to a client row (update, delete, a tenant's cascading delete, truncate) notifies
-- the token function's client cache in the same transaction: NOTIFY is delivered at commit.
-- Payload: "<tenant uuid>:<client_id>", or "*" for a truncate.
CREATE FUNCTION "auth"."notify_client_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('zeno_auth_clients', '*');
    RETURN NULL;
  END IF;
  PERFORM pg_notify('zeno_auth_clients', OLD.tenant_id::text || ':' || OLD.client_id);
  IF TG_OP = 'UPDATE' AND (NEW.tenant_id, NEW.client_id) IS DISTINCT FROM (OLD.tenant_id, OLD.client_id) THEN
    PERFORM pg_notify('zeno_auth_clients', NEW.tenant_id::text || ':' || NEW.client_id);
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "clients_notify_change" AFTER UPDATE OR DELETE ON "auth"."clients"
  FOR EACH ROW EXECUTE FUNCTION "auth"."notify_client_change"();
--> statement-breakpoint
CREATE TRIGGER "clients_notify_truncate" AFTER TRUNCATE ON "auth"."clients"
  FOR EACH STATEMENT EXECUTE FUNCTION "auth"."notify_client_change"();
