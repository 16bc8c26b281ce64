using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Node.Store.Migrations
{
    /// <inheritdoc />
    public partial class DecisionLog : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "country",
                table: "lifecycle_entries",
                type: "TEXT",
                maxLength: 3,
                nullable: false,
                defaultValue: "");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "country",
                table: "lifecycle_entries");
        }
    }
}
