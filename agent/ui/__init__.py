"""What the user sees: the prompter interface, its dialog/terminal/scripted implementations,
and the tray icon."""
