using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Node.Store.PostgresMigrations
{
    /// <inheritdoc />
    public partial class CommittedReasons : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<byte[]>(
                name: "reason_hash",
                table: "lifecycle_entries",
                type: "bytea",
                nullable: true);

            migrationBuilder.AddColumn<byte[]>(
                name: "reason_salt",
                table: "lifecycle_entries",
                type: "bytea",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "reason_hash",
                table: "lifecycle_entries");

            migrationBuilder.DropColumn(
                name: "reason_salt",
                table: "lifecycle_entries");
        }
    }
}
