# Run by tests/chef/redmine.py through `rails runner` on an empty database: the migrations, Redmine's
# default configuration (trackers, statuses, roles), the REST API on, an API key for the admin user, and a
# project with issues. Prints {"api_key", "project", "issues": [ids], "statuses": {name: id}} as JSON.
# Migrating here rather than with `rake db:migrate` saves a second boot of Rails (about 10 s).
require "json"

ActiveRecord::Migration.verbose = false
ActiveRecord::Base.connection.migration_context.migrate
# The models were loaded before their tables had every column.
ActiveRecord::Base.descendants.each(&:reset_column_information)

Redmine::DefaultData::Loader.load("en") if Redmine::DefaultData::Loader.no_data?
# No mail: the tests' Redmine notifies nobody.
ActionMailer::Base.perform_deliveries = false
Setting.notified_events = []
Setting.rest_api_enabled = "1"
admin = User.find_by(login: "admin")
token = Token.find_by(user: admin, action: "api") || Token.create!(user: admin, action: "api")
project = Project.find_by(identifier: "cdn") || Project.create!(
  name: "CDN", identifier: "cdn", is_public: false, tracker_ids: Tracker.pluck(:id),
  enabled_module_names: %w[issue_tracking]
)
count = Integer(ARGV.fetch(0, "5"))
issues = Array.new(count) do |n|
  Issue.create!(
    project: project, tracker: project.trackers.first, author: admin, subject: "Issue #{n + 1}",
    status: IssueStatus.order(:position).first, priority: IssuePriority.default || IssuePriority.first
  )
end
puts JSON.generate(
  api_key: token.value, project: project.identifier, issues: issues.map(&:id),
  statuses: IssueStatus.all.to_h { |s| [s.name, s.id] }
)
