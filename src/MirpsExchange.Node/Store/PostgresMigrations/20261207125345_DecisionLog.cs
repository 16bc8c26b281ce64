using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Node.Store.PostgresMigrations
{
    /// <inheritdoc />
    public partial class DecisionLog : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterColumn<string>(
                name: "origin",
                table: "lifecycle_entries",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                collation: "C",
                oldClrType: typeof(string),
                oldType: "character varying(3)",
                oldMaxLength: 3,
                oldCollation: "C");

            migrationBuilder.AddColumn<string>(
                name: "country",
                table: "lifecycle_entries",
                type: "character varying(3)",
                maxLength: 3,
                nullable: false,
                defaultValue: "",
                collation: "C");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "country",
                table: "lifecycle_entries");

            migrationBuilder.AlterColumn<string>(
                name: "origin",
                table: "lifecycle_entries",
                type: "character varying(3)",
                maxLength: 3,
                nullable: false,
                collation: "C",
                oldClrType: typeof(string),
                oldType: "character varying(16)",
                oldMaxLength: 16,
                oldCollation: "C");
        }
    }
}
