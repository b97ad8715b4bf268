CREATE TABLE "auth"."scim_sync_peers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"url" text NOT NULL,
	"token_sealed" text NOT NULL,
	"lease_until" timestamp with time zone,
	"last_round_at" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth"."scim_tombstones" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"resource_type" text NOT NULL,
	"key" text NOT NULL,
	"deleted_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "auth"."scim_sync_peers" ADD CONSTRAINT "scim_sync_peers_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "auth"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."scim_tombstones" ADD CONSTRAINT "scim_tombstones_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "auth"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "scim_sync_peers_tenant_id_name_index" ON "auth"."scim_sync_peers" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "scim_tombstones_tenant_id_resource_type_key_index" ON "auth"."scim_tombstones" USING btree ("tenant_id","resource_type","key");--> statement-breakpoint
CREATE INDEX "scim_tombstones_tenant_id_deleted_at_index" ON "auth"."scim_tombstones" USING btree ("tenant_id","deleted_at");--> statement-breakpoint
-- Every delete of a user or group leaves a tombstone under its sync key (externalId, or the id
-- when it had none), whoever deletes it, so that a peer site deletes its copy too. A delete that
-- comes with the tenant's own (cascade) leaves none: the tenant row is already gone.
CREATE FUNCTION "auth"."scim_tombstone"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO auth.scim_tombstones (tenant_id, resource_type, key, deleted_at)
  SELECT OLD.tenant_id, TG_ARGV[0], coalesce(OLD.external_id, OLD.id::text), now()
  WHERE EXISTS (SELECT 1 FROM auth.tenants WHERE id = OLD.tenant_id)
  ON CONFLICT (tenant_id, resource_type, key) DO UPDATE SET deleted_at = excluded.deleted_at;
  RETURN OLD;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "users_scim_tombstone" AFTER DELETE ON "auth"."users"
  FOR EACH ROW EXECUTE FUNCTION "auth"."scim_tombstone"('User');
--> statement-breakpoint
CREATE TRIGGER "groups_scim_tombstone" AFTER DELETE ON "auth"."groups"
  FOR EACH ROW EXECUTE FUNCTION "auth"."scim_tombstone"('Group');
