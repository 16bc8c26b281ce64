using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace MirpsExchange.Node.Store.PostgresMigrations
{
    /// <inheritdoc />
    public partial class InitialStore : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "acceptances",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    country = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    group_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    period = table.Column<string>(type: "character varying(7)", maxLength: 7, nullable: false, collation: "C"),
                    entry_sequence = table.Column<long>(type: "bigint", nullable: false),
                    accepted = table.Column<bool>(type: "boolean", nullable: false),
                    reason = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false, collation: "C"),
                    actor = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false, collation: "C"),
                    recorded_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_acceptances", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "catalogue_versions",
                columns: table => new
                {
                    holder = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    seen_time = table.Column<long>(type: "bigint", nullable: false),
                    version = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false, collation: "C")
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_catalogue_versions", x => new { x.holder, x.seen_time });
                });

            migrationBuilder.CreateTable(
                name: "lifecycle_entries",
                columns: table => new
                {
                    origin = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    entry_sequence = table.Column<long>(type: "bigint", nullable: false),
                    previous_hash = table.Column<byte[]>(type: "bytea", nullable: true),
                    group_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    period = table.Column<string>(type: "character varying(7)", maxLength: 7, nullable: false, collation: "C"),
                    action = table.Column<int>(type: "integer", nullable: false),
                    log_sequence = table.Column<long>(type: "bigint", nullable: false),
                    log_hash = table.Column<byte[]>(type: "bytea", nullable: true),
                    reason = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false, collation: "C"),
                    actor = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false, collation: "C"),
                    recorded_time = table.Column<long>(type: "bigint", nullable: false),
                    key_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    signature = table.Column<byte[]>(type: "bytea", nullable: false),
                    entry_hash = table.Column<byte[]>(type: "bytea", nullable: false),
                    received_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_lifecycle_entries", x => new { x.origin, x.entry_sequence });
                });

            migrationBuilder.CreateTable(
                name: "log_heads",
                columns: table => new
                {
                    origin = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    sequence = table.Column<long>(type: "bigint", nullable: false),
                    kind = table.Column<int>(type: "integer", nullable: false),
                    hash = table.Column<byte[]>(type: "bytea", nullable: false),
                    key_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    signature = table.Column<byte[]>(type: "bytea", nullable: false),
                    signed_time = table.Column<long>(type: "bigint", nullable: false),
                    next_public_key = table.Column<byte[]>(type: "bytea", nullable: true),
                    received_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_log_heads", x => new { x.origin, x.sequence, x.kind });
                });

            migrationBuilder.CreateTable(
                name: "observations",
                columns: table => new
                {
                    origin = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    origin_sequence = table.Column<long>(type: "bigint", nullable: false),
                    indicator_code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    country = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    period = table.Column<string>(type: "character varying(7)", maxLength: 7, nullable: false, collation: "C"),
                    sex = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false, collation: "C"),
                    age = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false, collation: "C"),
                    country_of_origin = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false, collation: "C"),
                    application_type = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, collation: "C"),
                    decision_level = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, collation: "C"),
                    procedure_type = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, collation: "C"),
                    count_basis = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, collation: "C"),
                    country_of_destination = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false, collation: "C"),
                    period_start = table.Column<DateOnly>(type: "date", nullable: false),
                    period_end = table.Column<DateOnly>(type: "date", nullable: false),
                    revision = table.Column<long>(type: "bigint", nullable: false),
                    value = table.Column<double>(type: "double precision", nullable: true),
                    status = table.Column<int>(type: "integer", nullable: false),
                    note = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false, collation: "C"),
                    lower_bound = table.Column<bool>(type: "boolean", nullable: false),
                    confidentiality = table.Column<int>(type: "integer", nullable: false),
                    synthetic = table.Column<bool>(type: "boolean", nullable: false),
                    deleted = table.Column<bool>(type: "boolean", nullable: false),
                    recorded_time = table.Column<long>(type: "bigint", nullable: false),
                    superseded_time = table.Column<long>(type: "bigint", nullable: true),
                    readers = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    release_time = table.Column<long>(type: "bigint", nullable: true),
                    small_count_threshold = table.Column<int>(type: "integer", nullable: false),
                    value_withheld = table.Column<bool>(type: "boolean", nullable: false),
                    salt = table.Column<byte[]>(type: "bytea", nullable: true),
                    value_digest = table.Column<byte[]>(type: "bytea", nullable: true),
                    change_hash = table.Column<byte[]>(type: "bytea", nullable: true),
                    received_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_observations", x => new { x.origin, x.origin_sequence });
                });

            migrationBuilder.CreateTable(
                name: "requests",
                columns: table => new
                {
                    request_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false, collation: "C"),
                    operation = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    request_digest = table.Column<byte[]>(type: "bytea", nullable: false),
                    response = table.Column<byte[]>(type: "bytea", nullable: false),
                    recorded_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_requests", x => x.request_id);
                });

            migrationBuilder.CreateTable(
                name: "withheld_changes",
                columns: table => new
                {
                    origin = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    origin_sequence = table.Column<long>(type: "bigint", nullable: false),
                    reason = table.Column<int>(type: "integer", nullable: false),
                    recorded_time = table.Column<long>(type: "bigint", nullable: false),
                    readers = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    release_time = table.Column<long>(type: "bigint", nullable: true),
                    small_count_threshold = table.Column<int>(type: "integer", nullable: false),
                    content_digest = table.Column<byte[]>(type: "bytea", nullable: true),
                    change_hash = table.Column<byte[]>(type: "bytea", nullable: true),
                    received_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_withheld_changes", x => new { x.origin, x.origin_sequence });
                });

            migrationBuilder.CreateIndex(
                name: "IX_acceptances_country_group_id_period_id",
                table: "acceptances",
                columns: new[] { "country", "group_id", "period", "id" });

            migrationBuilder.CreateIndex(
                name: "IX_lifecycle_entries_origin_group_id_period_entry_sequence",
                table: "lifecycle_entries",
                columns: new[] { "origin", "group_id", "period", "entry_sequence" });

            migrationBuilder.CreateIndex(
                name: "IX_log_heads_origin_received_time",
                table: "log_heads",
                columns: new[] { "origin", "received_time" });

            migrationBuilder.CreateIndex(
                name: "ux_observations_key_revision",
                table: "observations",
                columns: new[] { "indicator_code", "country", "period", "sex", "age", "country_of_origin", "application_type", "decision_level", "procedure_type", "count_basis", "country_of_destination", "revision" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_requests_recorded_time",
                table: "requests",
                column: "recorded_time");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "acceptances");

            migrationBuilder.DropTable(
                name: "catalogue_versions");

            migrationBuilder.DropTable(
                name: "lifecycle_entries");

            migrationBuilder.DropTable(
                name: "log_heads");

            migrationBuilder.DropTable(
                name: "observations");

            migrationBuilder.DropTable(
                name: "requests");

            migrationBuilder.DropTable(
                name: "withheld_changes");
        }
    }
}
