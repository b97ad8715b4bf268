CREATE SCHEMA "scope";
--> statement-breakpoint
CREATE TABLE "scope"."inbox" (
	"source" text NOT NULL,
	"id" text NOT NULL,
	"type" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_source_id_pk" PRIMARY KEY("source","id")
);
