use super::*;
use chrono::TimeZone;

/// An instant given as Beijing wall-clock time (UTC+08:00).
fn bj(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn dur(s: &str) -> IsoDuration {
    IsoDuration::parse(s).unwrap()
}

fn china_deadline(start: DateTime<Utc>, limit: &str, mode: CalendarMode) -> DateTime<Utc> {
    WorkingCalendar::china().deadline(start, dur(limit), mode)
}

#[test]
fn durations_parse_into_days_and_seconds() {
    for (s, days, secs) in [
        ("PT2H", 0, 7200),
        ("PT5S", 0, 5),
        ("P1D", 1, 0),
        ("PT30M", 0, 1800),
        ("P1DT2H30M", 1, 9000),
        ("P2W", 14, 0),
        ("P1W2D", 9, 0),
        ("PT72H", 0, 259_200),
    ] {
        let d = dur(s);
        assert_eq!((d.days(), d.time_seconds()), (days, secs), "{s}");
    }
}

#[test]
fn durations_print_in_canonical_form_and_round_trip_through_json() {
    assert_eq!(dur("PT90M").to_string(), "PT1H30M");
    assert_eq!(dur("P2W").to_string(), "P14D");
    assert_eq!(
        dur("PT72H").to_string(),
        "PT72H",
        "hours are not folded into days"
    );
    assert_eq!(dur("P1DT5S").to_string(), "P1DT5S");
    let json = serde_json::to_string(&dur("PT2H")).unwrap();
    assert_eq!(json, r#""PT2H""#);
    assert_eq!(
        serde_json::from_str::<IsoDuration>(&json).unwrap(),
        dur("PT2H")
    );
}

#[test]
fn malformed_durations_are_refused_with_a_reason() {
    for s in [
        "", "P", "PT", "2H", "PT2", "P1H", "PT1D", "PT30M2H", "PT2H2H", "pt2h", "PT-1H", "P1DT",
        "PT2H ",
    ] {
        assert_eq!(
            IsoDuration::parse(s),
            Err(CalendarError::NotADuration(s.to_owned())),
            "{s:?}"
        );
    }
    assert!(matches!(
        IsoDuration::parse("P1Y"),
        Err(CalendarError::YearsOrMonths(_))
    ));
    assert!(matches!(
        IsoDuration::parse("P1M"),
        Err(CalendarError::YearsOrMonths(_))
    ));
    assert!(matches!(
        IsoDuration::parse("PT1.5H"),
        Err(CalendarError::Fraction(_))
    ));
    assert!(matches!(
        IsoDuration::parse("PT0S"),
        Err(CalendarError::Zero(_))
    ));
    assert!(matches!(
        IsoDuration::parse("P9999D"),
        Err(CalendarError::TooLong(_))
    ));
    assert!(matches!(
        IsoDuration::parse("PT99999999999999999999999S"),
        Err(CalendarError::TooLong(_))
    ));
    assert_eq!(
        IsoDuration::parse("2 hours").unwrap_err().to_string(),
        "\"2 hours\" is not an ISO-8601 duration such as PT2H, PT30M, PT5S, P1D or P1DT4H"
    );
}

#[test]
fn the_china_default_knows_2025_holidays_and_swapped_working_days() {
    let cal = WorkingCalendar::china();
    let day = |m, d| NaiveDate::from_ymd_opt(2025, m, d).unwrap();
    assert!(cal.is_working_day(day(6, 3)), "an ordinary Tuesday");
    assert!(!cal.is_working_day(day(6, 7)), "an ordinary Saturday");
    assert!(!cal.is_working_day(day(10, 1)), "National Day");
    assert!(
        !cal.is_working_day(day(10, 8)),
        "last day of the 2025 Golden Week"
    );
    assert!(
        cal.is_working_day(day(9, 28)),
        "Sunday worked in exchange (调休)"
    );
    assert!(
        cal.is_working_day(day(10, 11)),
        "Saturday worked in exchange (调休)"
    );
    assert_eq!(cal.working_day_length(), TimeDelta::minutes(450));
    assert_eq!(cal.offset().local_minus_utc(), 8 * 3600);
}

#[test]
fn working_hours_skip_the_lunch_break() {
    // Tue 11:00 + 2 working hours: 11:00–12:00, then 13:30–14:30.
    let due = china_deadline(bj(2025, 6, 3, 11, 0), "PT2H", CalendarMode::WorkingHours);
    assert_eq!(due, bj(2025, 6, 3, 14, 30));
    assert_eq!(due.to_rfc3339(), "2025-06-03T06:30:00+00:00");
    // Reported during lunch: the clock starts at 13:30.
    let due = china_deadline(bj(2025, 6, 3, 12, 15), "PT30M", CalendarMode::WorkingHours);
    assert_eq!(due, bj(2025, 6, 3, 14, 0));
    // Reported before opening: the clock starts at 08:30.
    let due = china_deadline(bj(2025, 6, 9, 7, 0), "PT30M", CalendarMode::WorkingHours);
    assert_eq!(due, bj(2025, 6, 9, 9, 0));
}

#[test]
fn a_deadline_can_fall_exactly_at_closing_time() {
    let due = china_deadline(bj(2025, 6, 9, 16, 30), "PT1H", CalendarMode::WorkingHours);
    assert_eq!(due, bj(2025, 6, 9, 17, 30));
}

#[test]
fn working_hours_skip_the_weekend() {
    // Fri 16:30 + 2 h: 16:30–17:30 on Friday, then 08:30–09:30 on Monday.
    let due = china_deadline(bj(2025, 6, 6, 16, 30), "PT2H", CalendarMode::WorkingHours);
    assert_eq!(due, bj(2025, 6, 9, 9, 30));
}

#[test]
fn working_days_skip_the_national_day_holiday() {
    // Tue 30 Sep 16:00 + 1 working day (7.5 h): 1.5 h on 30 Sep, 1–8 Oct are holidays,
    // then 3.5 h in the morning of Thu 9 Oct and 2.5 h from 13:30: 16:00.
    let due = china_deadline(bj(2025, 9, 30, 16, 0), "P1D", CalendarMode::WorkingDays);
    assert_eq!(due, bj(2025, 10, 9, 16, 0));
}

#[test]
fn a_swapped_sunday_counts_as_a_working_day() {
    // Fri 26 Sep 17:00 + 1 h: 30 min on Friday, Saturday off, Sunday 28 Sep is worked.
    let due = china_deadline(bj(2025, 9, 26, 17, 0), "PT1H", CalendarMode::WorkingHours);
    assert_eq!(due, bj(2025, 9, 28, 9, 0));
}

#[test]
fn a_day_in_working_hours_mode_is_twenty_four_working_hours() {
    // Mon 08:30 + 24 working hours: 7.5 h each on Mon, Tue, Wed (22.5 h), then 1.5 h.
    let due = china_deadline(bj(2025, 6, 9, 8, 30), "P1D", CalendarMode::WorkingHours);
    assert_eq!(due, bj(2025, 6, 12, 10, 0));
}

#[test]
fn natural_time_ignores_weekends_and_office_hours() {
    let start = bj(2025, 6, 6, 16, 30);
    assert_eq!(
        china_deadline(start, "P1D", CalendarMode::Natural),
        bj(2025, 6, 7, 16, 30)
    );
    assert_eq!(
        china_deadline(start, "PT5S", CalendarMode::Natural),
        start + TimeDelta::seconds(5)
    );
}

#[test]
fn warning_is_green_until_the_deadline_yellow_after_and_red_after_one_more_limit() {
    let cal = WorkingCalendar::china();
    let start = bj(2025, 6, 3, 10, 0);
    let limit = dur("PT2H");
    let deadline = cal.deadline(start, limit, CalendarMode::Natural);
    assert_eq!(deadline, bj(2025, 6, 3, 12, 0));
    let level = |now| cal.warning_level(now, deadline, limit, CalendarMode::Natural, None);
    assert_eq!(level(bj(2025, 6, 3, 11, 59)), WarningLevel::Green);
    assert_eq!(level(deadline), WarningLevel::Green);
    assert_eq!(level(bj(2025, 6, 3, 12, 1)), WarningLevel::Yellow);
    assert_eq!(level(bj(2025, 6, 3, 14, 0)), WarningLevel::Yellow);
    assert_eq!(
        level(bj(2025, 6, 3, 14, 0) + TimeDelta::seconds(1)),
        WarningLevel::Red
    );
    let margin = Some(dur("PT30M"));
    let level = |now| cal.warning_level(now, deadline, limit, CalendarMode::Natural, margin);
    assert_eq!(level(bj(2025, 6, 3, 12, 30)), WarningLevel::Yellow);
    assert_eq!(level(bj(2025, 6, 3, 12, 31)), WarningLevel::Red);
}

#[test]
fn a_working_hours_case_does_not_turn_red_over_the_weekend() {
    // Due Fri 17:00 with a 2 working-hour limit: red after 30 min on Friday plus
    // 1.5 h on Monday, i.e. at Mon 10:00.
    let cal = WorkingCalendar::china();
    let deadline = bj(2025, 6, 6, 17, 0);
    let limit = dur("PT2H");
    let mode = CalendarMode::WorkingHours;
    assert_eq!(
        cal.red_at(deadline, limit, mode, None),
        bj(2025, 6, 9, 10, 0)
    );
    let level = |now| cal.warning_level(now, deadline, limit, mode, None);
    assert_eq!(level(bj(2025, 6, 7, 12, 0)), WarningLevel::Yellow);
    assert_eq!(level(bj(2025, 6, 9, 10, 0)), WarningLevel::Yellow);
    assert_eq!(level(bj(2025, 6, 9, 10, 1)), WarningLevel::Red);
}

#[test]
fn a_stored_deadline_carries_its_limit_and_serialises_as_json() {
    // Fri 16:30 + 2 working hours → Mon 09:30; red after 2 more: Mon 11:30.
    let cal = WorkingCalendar::china();
    let limit = TimeLimit {
        duration: dur("PT2H"),
        calendar: CalendarMode::WorkingHours,
    };
    let d = cal.deadline_for(bj(2025, 6, 6, 16, 30), limit);
    assert_eq!(d.at, bj(2025, 6, 9, 9, 30));
    assert_eq!(d.red_at(&cal, None), bj(2025, 6, 9, 11, 30));
    assert_eq!(
        d.level(bj(2025, 6, 9, 11, 31), &cal, None),
        WarningLevel::Red
    );
    let json = serde_json::to_value(d).unwrap();
    assert_eq!(json["at"], "2025-06-09T01:30:00Z");
    assert_eq!(json["limit"]["duration"], "PT2H");
    assert_eq!(json["limit"]["calendar"], "working_hours");
    assert_eq!(serde_json::from_value::<Deadline>(json).unwrap(), d);
}

#[test]
fn a_calendar_configuration_parses_and_round_trips() {
    let json = r#"{"utc_offset": "+08:00", "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat"],
            "hours": ["13:00-17:00", "08:00-12:00"], "covers": "2025-01-01/2025-12-31",
            "holidays": ["2025-10-01/2025-10-03"],
            "extra_working_days": ["2025-10-05"]}"#;
    let cal: WorkingCalendar = serde_json::from_str(json).unwrap();
    assert!(cal.is_working_day(NaiveDate::from_ymd_opt(2025, 6, 7).unwrap()));
    assert!(!cal.is_working_day(NaiveDate::from_ymd_opt(2025, 10, 2).unwrap()));
    assert_eq!(cal.working_day_length(), TimeDelta::hours(8));
    // Sat 11:00 + 2 h in this six-day calendar: 11:00–12:00 and 13:00–14:00.
    assert_eq!(
        cal.deadline(
            bj(2025, 6, 7, 11, 0),
            dur("PT2H"),
            CalendarMode::WorkingHours
        ),
        bj(2025, 6, 7, 14, 0)
    );
    let back: WorkingCalendar =
        serde_json::from_value(serde_json::to_value(&cal).unwrap()).unwrap();
    assert_eq!(back, cal);
    let china = WorkingCalendar::china();
    let back: WorkingCalendar =
        serde_json::from_value(serde_json::to_value(&china).unwrap()).unwrap();
    assert_eq!(back, china);
}

#[test]
fn calendars_without_working_time_or_with_contradictions_are_refused() {
    let config = |weekdays: &[&str], hours: &[&str], holidays: &[&str], extra: &[&str]| {
        WorkingCalendar::try_from(CalendarConfig {
            utc_offset: "+08:00".into(),
            weekdays: strings(weekdays),
            hours: strings(hours),
            covers: "2025-01-01/2025-12-31".into(),
            holidays: strings(holidays),
            extra_working_days: strings(extra),
        })
    };
    assert_eq!(
        config(&[], &["08:30-12:00"], &[], &[]),
        Err(CalendarError::NoWorkingTime)
    );
    assert_eq!(
        config(&["mon"], &[], &[], &[]),
        Err(CalendarError::NoWorkingTime)
    );
    assert!(matches!(
        config(&["mon"], &["08:00-12:00", "11:00-17:00"], &[], &[]),
        Err(CalendarError::Overlap(_, _))
    ));
    assert!(matches!(
        config(&["mon"], &["12:00-08:00"], &[], &[]),
        Err(CalendarError::BadSetting(_, _))
    ));
    assert!(matches!(
        config(&["monday", "funday"], &["08:00-12:00"], &[], &[]),
        Err(CalendarError::BadSetting(_, _))
    ));
    assert!(matches!(
        config(&["mon"], &["08:00-12:00"], &["2025-10-08/2025-10-01"], &[]),
        Err(CalendarError::BadSetting(_, _))
    ));
    assert_eq!(
        config(
            &["mon"],
            &["08:00-12:00"],
            &["2025-10-01/2025-10-08"],
            &["2025-10-03"]
        ),
        Err(CalendarError::HolidayAndWorkingDay(
            NaiveDate::from_ymd_opt(2025, 10, 3).unwrap()
        ))
    );
}

#[test]
fn a_calendar_states_its_coverage_and_deadlines_past_it_are_provisional() {
    let china = WorkingCalendar::china();
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(china.covers(), (day(2025, 1, 1), day(2026, 12, 31)));
    assert_eq!(china.days_covered_after(day(2026, 12, 1)), 30);
    assert!(china.coverage_warning(day(2026, 10, 1), 60).is_none());
    let warning = china.coverage_warning(day(2026, 12, 1), 60).unwrap();
    assert!(
        warning.contains("2026-12-31") && warning.contains("--calendar"),
        "{warning}"
    );
    assert!(
        china
            .coverage_warning(day(2027, 1, 5), 60)
            .unwrap()
            .contains("ended 5 days ago")
    );
    let working = |d: &str| TimeLimit {
        duration: dur(d),
        calendar: CalendarMode::WorkingDays,
    };
    // Five working days from Monday 2026-12-14 end inside 2026; from 2026-12-28 they
    // run into 2027, whose holidays nobody knows yet.
    assert!(
        !china
            .deadline_for(bj(2026, 12, 14, 9, 0), working("P5D"))
            .provisional
    );
    assert!(
        china
            .deadline_for(bj(2026, 12, 28, 9, 0), working("P5D"))
            .provisional
    );
    let natural = TimeLimit {
        duration: dur("P5D"),
        calendar: CalendarMode::Natural,
    };
    assert!(
        !china
            .deadline_for(bj(2026, 12, 28, 9, 0), natural)
            .provisional
    );
    // A holiday outside the stated coverage is a contradiction.
    let mut config = CalendarConfig::china();
    config.covers = "2025-01-01/2025-12-31".into();
    assert!(matches!(
        WorkingCalendar::try_from(config),
        Err(CalendarError::OutsideCoverage(_, _))
    ));
    // A provisional flag survives the case log; a firm deadline's JSON is unchanged.
    let d = china.deadline_for(bj(2026, 12, 28, 9, 0), working("P5D"));
    let json = serde_json::to_value(d).unwrap();
    assert_eq!(json["provisional"], true);
    assert_eq!(serde_json::from_value::<Deadline>(json).unwrap(), d);
    let firm = serde_json::to_value(china.deadline_for(bj(2026, 12, 14, 9, 0), working("P5D")));
    assert!(firm.unwrap().get("provisional").is_none());
}

#[test]
fn warning_levels_parse_and_print_in_lowercase() {
    for level in [WarningLevel::Green, WarningLevel::Yellow, WarningLevel::Red] {
        assert_eq!(level.as_str().parse::<WarningLevel>(), Ok(level));
        assert_eq!(
            serde_json::to_value(level).unwrap(),
            serde_json::Value::from(level.as_str())
        );
    }
    assert!("orange".parse::<WarningLevel>().is_err());
    let utc = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(WarningLevel::at(utc, utc, utc), WarningLevel::Green);
}
