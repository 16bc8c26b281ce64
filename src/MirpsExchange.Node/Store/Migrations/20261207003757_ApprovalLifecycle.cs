using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Node.Store.Migrations
{
    /// <inheritdoc />
    public partial class ApprovalLifecycle : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "acceptances",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    country = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    group_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    period = table.Column<string>(type: "TEXT", maxLength: 7, nullable: false),
                    entry_sequence = table.Column<long>(type: "INTEGER", nullable: false),
                    accepted = table.Column<bool>(type: "INTEGER", nullable: false),
                    reason = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    actor = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    recorded_time = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_acceptances", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "lifecycle_entries",
                columns: table => new
                {
                    origin = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    entry_sequence = table.Column<long>(type: "INTEGER", nullable: false),
                    previous_hash = table.Column<byte[]>(type: "BLOB", nullable: true),
                    group_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    period = table.Column<string>(type: "TEXT", maxLength: 7, nullable: false),
                    action = table.Column<int>(type: "INTEGER", nullable: false),
                    log_sequence = table.Column<long>(type: "INTEGER", nullable: false),
                    log_hash = table.Column<byte[]>(type: "BLOB", nullable: true),
                    reason = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    actor = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    recorded_time = table.Column<long>(type: "INTEGER", nullable: false),
                    key_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    signature = table.Column<byte[]>(type: "BLOB", nullable: false),
                    entry_hash = table.Column<byte[]>(type: "BLOB", nullable: false),
                    received_time = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_lifecycle_entries", x => new { x.origin, x.entry_sequence });
                });

            migrationBuilder.CreateIndex(
                name: "IX_acceptances_country_group_id_period_id",
                table: "acceptances",
                columns: new[] { "country", "group_id", "period", "id" });

            migrationBuilder.CreateIndex(
                name: "IX_lifecycle_entries_origin_group_id_period_entry_sequence",
                table: "lifecycle_entries",
                columns: new[] { "origin", "group_id", "period", "entry_sequence" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "acceptances");

            migrationBuilder.DropTable(
                name: "lifecycle_entries");
        }
    }
}
