using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Node.Store.Migrations
{
    /// <inheritdoc />
    public partial class SharingPolicy : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "readers",
                table: "observations",
                type: "TEXT",
                maxLength: 64,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<long>(
                name: "release_time",
                table: "observations",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "small_count_threshold",
                table: "observations",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<bool>(
                name: "value_withheld",
                table: "observations",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateTable(
                name: "withheld_changes",
                columns: table => new
                {
                    origin = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    origin_sequence = table.Column<long>(type: "INTEGER", nullable: false),
                    reason = table.Column<int>(type: "INTEGER", nullable: false),
                    recorded_time = table.Column<long>(type: "INTEGER", nullable: false),
                    readers = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    release_time = table.Column<long>(type: "INTEGER", nullable: true),
                    small_count_threshold = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_withheld_changes", x => new { x.origin, x.origin_sequence });
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "withheld_changes");

            migrationBuilder.DropColumn(
                name: "readers",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "release_time",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "small_count_threshold",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "value_withheld",
                table: "observations");
        }
    }
}
