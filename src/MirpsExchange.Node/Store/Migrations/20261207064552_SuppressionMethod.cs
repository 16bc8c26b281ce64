using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Node.Store.Migrations
{
    /// <inheritdoc />
    public partial class SuppressionMethod : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Heads signed before methods were versioned declare method 3 (Mirps.Log.SuppressionMethod.Default).
            migrationBuilder.AddColumn<int>(
                name: "suppression_method",
                table: "log_heads",
                type: "INTEGER",
                nullable: false,
                defaultValue: 3);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "suppression_method",
                table: "log_heads");
        }
    }
}
