using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Node.Store.Migrations
{
    /// <inheritdoc />
    public partial class CatalogueTwoDimensions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ux_observations_key_revision",
                table: "observations");

            migrationBuilder.AddColumn<string>(
                name: "application_type",
                table: "observations",
                type: "TEXT",
                maxLength: 16,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<int>(
                name: "confidentiality",
                table: "observations",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "count_basis",
                table: "observations",
                type: "TEXT",
                maxLength: 16,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "country_of_destination",
                table: "observations",
                type: "TEXT",
                maxLength: 8,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "decision_level",
                table: "observations",
                type: "TEXT",
                maxLength: 16,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<bool>(
                name: "lower_bound",
                table: "observations",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "procedure_type",
                table: "observations",
                type: "TEXT",
                maxLength: 16,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<bool>(
                name: "synthetic",
                table: "observations",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateIndex(
                name: "ux_observations_key_revision",
                table: "observations",
                columns: new[] { "indicator_code", "country", "period", "sex", "age", "country_of_origin", "application_type", "decision_level", "procedure_type", "count_basis", "country_of_destination", "revision" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ux_observations_key_revision",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "application_type",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "confidentiality",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "count_basis",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "country_of_destination",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "decision_level",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "lower_bound",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "procedure_type",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "synthetic",
                table: "observations");

            migrationBuilder.CreateIndex(
                name: "ux_observations_key_revision",
                table: "observations",
                columns: new[] { "indicator_code", "country", "period", "sex", "age", "country_of_origin", "revision" },
                unique: true);
        }
    }
}
